"""Device slots of xdist workers (pure), and how the controller hands them out (execnet specs, no processes)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from perfsuite.workers import WorkerPlanError, WorkerSlot, plan_slots, split_cores, visible_cuda_devices, worker_index


def test_cpu_workers_get_disjoint_equal_core_sets():
    slots = plan_slots("cpu", 3, cores=[0, 1, 2, 3, 4, 5, 6], cuda_devices=[])
    assert [s.cores for s in slots] == [(0, 1), (2, 3), (4, 5)]  # core 6 left over: equal shares
    assert all(s.cuda_visible is None and s.device == "cpu" for s in slots)


def test_more_workers_than_cores_or_gpus_is_refused_with_what_fits():
    with pytest.raises(WorkerPlanError, match=r"-n 3 asks for 3 workers, but this process may use only 2 CPU core\(s\) \(\[0, 1\]\).*Use -n 2"):
        plan_slots("cpu", 3, cores=[0, 1], cuda_devices=[])
    with pytest.raises(WorkerPlanError, match=r"^-n logical \(3 workers\) asks for 3 workers, but this process may use only 2"):
        plan_slots("cpu", 3, cores=[0, 1], cuda_devices=[], asked="-n logical (3 workers)")  # said as the user typed it
    with pytest.raises(WorkerPlanError, match=r"-n 3 asks for 3 workers, but 2 CUDA device\(s\) are visible \(0, 1\).*Use -n 2"):
        plan_slots("cuda", 3, cores=list(range(8)), cuda_devices=["0", "1"])
    with pytest.raises(WorkerPlanError, match="names one GPU"):
        plan_slots("cuda:1", 2, cores=[0, 1], cuda_devices=["0", "1"])
    with pytest.raises(WorkerPlanError, match="single device"):
        plan_slots("mps", 2, cores=[0, 1], cuda_devices=[])


def test_cuda_workers_get_one_gpu_each_from_the_visible_list():
    visible = visible_cuda_devices({"CUDA_VISIBLE_DEVICES": "5, 7"}, device_count=2)
    slots = plan_slots("cuda", 2, cores=[0, 1, 2, 3], cuda_devices=visible)
    assert [(s.cuda_visible, s.cores) for s in slots] == [("5", (0, 1)), ("7", (2, 3))]
    assert visible_cuda_devices({}, device_count=3) == ["0", "1", "2"]
    assert visible_cuda_devices({"CUDA_VISIBLE_DEVICES": ""}, device_count=2) == ["0", "1"]
    # More GPUs than host cores: the workers share the host cores, never a GPU.
    assert [s.cores for s in plan_slots("cuda", 2, cores=[0], cuda_devices=["0", "1"])] == [(0,), (0,)]


def test_slots_round_trip_and_worker_ids():
    slot = WorkerSlot(1, "cuda", (2, 3), "7")
    assert WorkerSlot.from_dict(slot.to_dict()) == slot and slot.worker_id == "gw1"
    assert worker_index("gw12") == 12
    with pytest.raises(WorkerPlanError):
        worker_index("main")
    assert split_cores([3, 1, 2, 0], 2) == [(0, 1), (2, 3)]


def test_the_controller_puts_each_gpu_in_its_workers_spawn_environment(tmp_path):
    execnet = pytest.importorskip("execnet")
    from perfsuite.xdist_plugin import RUN_DIR_KEY, SLOT_KEY, XdistController

    slots = plan_slots("cuda", 2, cores=[0, 1], cuda_devices=["0", "1"])
    controller = XdistController(SimpleNamespace(run_dir=tmp_path), slots)
    specs = [execnet.XSpec("popen"), execnet.XSpec("popen")]
    controller.pytest_xdist_setupnodes(config=None, specs=specs)
    assert [s.env for s in specs] == [{"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}]
    # A replacement for a crashed worker gets a new name but the same spec: so the same GPU.
    node = SimpleNamespace(gateway=SimpleNamespace(spec=specs[1], id="gw2"), workerinput={})
    controller.pytest_configure_node(node)
    assert node.workerinput[SLOT_KEY]["cuda_visible"] == "1" and node.workerinput[RUN_DIR_KEY] == str(tmp_path)


def test_a_crashed_test_id_leads_back_to_its_case():
    from perfsuite.xdist_plugin import case_of_nodeid, test_name_of

    cases = [SimpleNamespace(id="gpt2.tiny-pydoc-eager-bs1-cpu"), SimpleNamespace(id="gpt2.tiny-pydoc-eager-bs1-cpu-x")]
    assert case_of_nodeid("benches/t.py::test_latency[gpt2.tiny-pydoc-eager-bs1-cpu]", cases) is cases[0]
    assert case_of_nodeid("t.py::test_x[gpt2.tiny-pydoc-eager-bs1-cpu-x]", cases) is cases[1]  # the longest whole match
    assert case_of_nodeid("t.py::test_x[gpt2.tiny-pydoc-eager-bs1-cpu-fp16]", cases) is cases[0]  # with another parameter
    assert case_of_nodeid("t.py::test_plain", cases) is None
    assert test_name_of("benches/t.py::test_latency[a-b]") == "test_latency"


def test_a_cuda_worker_refuses_to_run_when_cuda_started_before_its_gpu_was_set(monkeypatch):
    import sys
    from types import ModuleType

    from perfsuite.xdist_plugin import check_cuda_untouched

    fake = ModuleType("torch")
    fake.cuda = SimpleNamespace(is_initialized=lambda: True)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(pytest.UsageError, match="CUDA was initialised in xdist worker gw1 before perfsuite could give it GPU 3 alone"):
        check_cuda_untouched(WorkerSlot(1, "cuda", (1,), "3"))
    fake.cuda = SimpleNamespace(is_initialized=lambda: False)  # type: ignore[attr-defined]
    check_cuda_untouched(WorkerSlot(1, "cuda", (1,), "3"))
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"  # put in place when the spawn environment lacked it
    check_cuda_untouched(WorkerSlot(0, "cpu", (0,)))  # a CPU worker: nothing to check


def test_each_worker_pins_as_many_cores_as_it_has_threads():
    from perfsuite.config.schema import HardwareSpec
    from perfsuite.xdist_plugin import worker_hardware, workers_threads

    hw = HardwareSpec(device="cpu", threads=2, interop_threads=1, pin=False, cores=None)
    slots = plan_slots("cpu", 2, cores=list(range(8)), cuda_devices=[])
    assert [(h.cores, h.threads, h.pin) for h in (worker_hardware(hw, s) for s in slots)] == [((0, 1), 2, True), ((4, 5), 2, True)]
    assert workers_threads(hw, slots)["affinity"] == [0, 1, 4, 5] and workers_threads(hw, slots)["torch_threads"] == 2
    one = plan_slots("cpu", 1, cores=[0], cuda_devices=[])
    assert worker_hardware(hw, one[0]).threads == 1  # never more threads than cores

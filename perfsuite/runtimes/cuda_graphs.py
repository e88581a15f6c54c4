"""CUDA graphs: the eager forward captured once per input shape and replayed (CUDA only).

For each new input signature (names, shapes, dtypes):

1. static input buffers are allocated on the device (clones of the first inputs);
2. ``WARMUP_CALLS`` eager calls run on a side stream (lazy initialisation, cuBLAS workspaces and
   autotuning must not happen during capture), and the current stream waits for them;
3. one forward is captured into a ``torch.cuda.CUDAGraph``; its outputs become the static outputs.

Each call then copies its inputs into the static buffers and replays the graph; it returns the
static outputs, which the next replay overwrites (the parity check copies them to the host first).
The copy-in is part of the timed call: a server using CUDA graphs pays it too. Graphs of different
shapes share one memory pool. The forward is eager's (`EagerRuntime.forward`), so precision and
autocast apply inside the graph exactly as in eager.

``cuda`` is injectable (``torch.cuda`` or a fake with ``Stream``, ``stream``, ``current_stream``,
``CUDAGraph``, ``graph``, ``device`` and ``synchronize``), which is how this is tested without a GPU.
"""

from __future__ import annotations

import time
from typing import Any

from perfsuite.config.schema import CaseConfig, RuntimeSpec
from perfsuite.errors import PerfDeviceError
from perfsuite.measure.clocks import cuda_device_index
from perfsuite.models.base import TransformersModel
from perfsuite.registry import RUNTIMES
from perfsuite.runtimes.base import input_signature, shapes_label
from perfsuite.runtimes.eager import EagerRuntime, describe_precision

WARMUP_CALLS = 3  # PyTorch's CUDA graphs notes warm up a few iterations on a side stream before capture
NOT_CUDA = "CUDA graphs capture CUDA kernels: they need --device cuda (this run is on {device})"


class CudaGraphsRuntime:
    def __init__(self, spec: RuntimeSpec, model: TransformersModel, *, cuda: Any = None) -> None:
        if not model.device.startswith("cuda"):
            raise PerfDeviceError(NOT_CUDA.format(device=model.device))
        if cuda is None:
            import torch

            cuda = torch.cuda
        self.name = spec.name
        self.spec = spec
        self.model = model
        self._cuda = cuda
        self._index = cuda_device_index(model.device)
        self._eager = EagerRuntime(spec, model, autocast_cache=False)  # autocast's weight cache must not outlive a capture
        self._graphs: dict[Any, tuple[Any, dict[str, Any], Any]] = {}  # signature -> (graph, static inputs, static output)
        self._pool: Any = None
        self.capture_s: dict[str, float] = {}

    def __call__(self, inputs: dict[str, Any]) -> Any:
        found = self._graphs.get(input_signature(inputs))
        if found is None:
            found = self._capture(inputs)
        graph, static, output = found
        for name, tensor in inputs.items():
            static[name].copy_(tensor, non_blocking=True)
        graph.replay()
        return output

    def _capture(self, inputs: dict[str, Any]) -> tuple[Any, dict[str, Any], Any]:
        cuda, index = self._cuda, self._index
        start = time.perf_counter()
        with cuda.device(index if index is not None else cuda.current_device()):
            static = {name: tensor.clone() for name, tensor in inputs.items()}
            side = cuda.Stream()
            side.wait_stream(cuda.current_stream())
            with cuda.stream(side):
                for _ in range(WARMUP_CALLS):
                    self._eager.forward(static)
            cuda.current_stream().wait_stream(side)
            graph = cuda.CUDAGraph()
            with cuda.graph(graph, pool=self._pool):
                output = self._eager.forward(static)
            if self._pool is None:
                self._pool = graph.pool()  # later shapes share the first graph's memory pool
            cuda.synchronize()
        found = self._graphs[input_signature(inputs)] = (graph, static, output)
        self.capture_s[shapes_label(inputs)] = time.perf_counter() - start
        return found

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "backend": "cuda_graphs", "grad": "inference_mode", "warmup_calls": WARMUP_CALLS}
        out.update(describe_precision(self.spec, self.model))
        out["graphs"] = len(self._graphs)
        out["capture_s"] = dict(self.capture_s)
        return out

    @staticmethod
    def unsupported(cfg: CaseConfig, device: str) -> str | None:
        """Matrix expansion: only CUDA devices have CUDA graphs."""
        return None if device.split(":")[0] == "cuda" else NOT_CUDA.format(device=device)


RUNTIMES.add("cuda_graphs", CudaGraphsRuntime)

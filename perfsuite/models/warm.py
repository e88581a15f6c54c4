"""`python -m perfsuite.models.warm PROVIDER|FILE.gguf ...`: de-quantize GGUF models into perfsuite's cache now.

transformers de-quantizes a GGUF file on every load (~17 s for SmolLM2-135M on one core); perfsuite keeps the float
weights under `perfsuite.models.causal.gguf_cache_dir()`. `tools/run.sh setup` runs this for the SmolLM2 of the shipped
suites, like a build step, so that a machine's first run does not spend its time there.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(names: list[str]) -> int:
    from perfsuite.models.causal import is_gguf_cached, warm_gguf_cache
    from perfsuite.registry import WEIGHTS

    for name in names:
        target = Path(name) if name.endswith(".gguf") else Path(WEIGHTS.get(name, key="weights provider")())
        if not is_gguf_cached(target):
            print(f"perfsuite: preparing the float weights of {target.name} once (transformers de-quantizes GGUF files: ~20 s)", flush=True)
            warm_gguf_cache(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

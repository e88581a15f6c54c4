"""The profiled pass: torch.profiler around a case, separate from (and never inside) the timed rounds."""

from perfsuite.profile.torch_profiler import ProfileResult, ProfilerSettings, profile_case

__all__ = ["ProfileResult", "ProfilerSettings", "profile_case"]

"""Root conftest: puts perfsuite's fixtures (fixtures/) in play for benches/ and for users' own benchmarks.

The plugin itself (options, config composition, run folder) is perfsuite.plugin, loaded through the
pytest11 entry point when perfsuite is installed.
"""

pytest_plugins = [
    "fixtures.case",
    "fixtures.device",
    "fixtures.model",
    "fixtures.dataset",
    "fixtures.runtime",
    "fixtures.batch",
]

"""perfsuite: a pytest-native performance test suite for ML model inference."""

__version__ = "0.1.0"

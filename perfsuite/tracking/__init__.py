"""Experiment-tracking export: a finished perfsuite run pushed to MLflow, TensorBoard or W&B.

`output.tracking` picks the trackers (docs/tracking.md); the session exports at its end
(`perfsuite.tracking.plugin`), `perfsuite track RUN --to mlflow` exports a run folder later.
"""

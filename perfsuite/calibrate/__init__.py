"""`perfsuite gate calibrate`: what the gate can see on this runner, measured through the user's own commands.

`trials` runs A/A and slowed trials as fresh `pytest` / `perfsuite ab` processes, `busy` adds
competing processes for a busy-runner trial, `summary` turns the trials' verdicts into
detection rates, false alarms and a recommended setting.
"""

"""Scaffolding for a user's own project: `perfsuite init`, `perfsuite new model`, `perfsuite new dataset`.

Every command here plans first (which files it would create, keep, merge into or refuse to touch),
then writes: the plan is what `--dry-run` shows, and a plan with a conflict writes nothing.
Files are rendered from the templates in `perfsuite/scaffold/templates/` (shipped in the wheel).
"""

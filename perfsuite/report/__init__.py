"""Reports of a run: the terminal summary, summary.md, tables/ (CSV, Parquet) and the verdicts of a comparison."""

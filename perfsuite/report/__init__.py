"""Reports of a run: the terminal summary (Markdown/HTML reports come with the compare work)."""

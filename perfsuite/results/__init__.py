"""Run records, the out/ layout and atomic writes."""

"""Benchmarks: scripts that measure and print figures, and write them to benchmarks/results/*.json
(the README's figure tables are generated from those files by scripts/readme_figures.py)."""

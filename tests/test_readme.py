"""The README's figure tables are generated from their sources (targets, the default model's
metrics, the benchmarks' JSON results): they must be current, not typed."""
import subprocess
import sys

from conftest import ROOT


def test_readme_figures_are_current():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_figures.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

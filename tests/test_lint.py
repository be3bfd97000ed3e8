"""ruff, configured in pyproject.toml, finds nothing in the package, the tests or the benchmarks."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINTED = ["src", "tests", "benchmarks"]


def test_ruff_finds_nothing():
    # ruff is pinned in the `test` extra: without it this fails rather than skips.
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
                           *LINTED], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr

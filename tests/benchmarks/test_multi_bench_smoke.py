"""The several-endpoints benchmark runs (a reduced run) and prints its rows. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_multi_benchmark_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.multi_bench", "--requests", "40", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| async, 50 in flight |" in proc.stdout and "| sync, one at a time |" in proc.stdout, proc.stdout

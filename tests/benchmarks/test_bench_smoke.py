"""The benchmark entry point runs (a reduced --quick run: our sync/async client and the raw baselines, one round).

No timing is asserted: only that it finishes, reports every scenario for our client and writes its JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_runs_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.benchmarks",
            "--quick",
            "--no-imports",
            "--rounds",
            "1",
            "--leak-requests",
            "200",
            "--clients",
            "ours-chat",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["status"]["ours-chat"] == "ok"
    for scenario in ("seq", "stream", "async50", "astream", "streams1000"):
        entry = doc["scenarios"][scenario]["ours-chat"]
        assert entry["cpu_s"] > 0 and "ratio" in entry, (scenario, entry)
    assert doc["scenarios"]["stream"]["ours-chat"]["events"] == 2001  # 2001 tokens, the last carrying the usage
    assert doc["scenarios"]["streams1000"]["ours-chat"]["errors"] == 0
    assert "growth_mb" in doc["scenarios"]["leak"]["ours-chat"]
    assert "| **hf_endpoint TGIClient / AsyncTGIClient (chat route)** |" in proc.stdout

"""The benchmark suite runs in smoke mode and its correctness checks hold.

Only the NumPy floor and tapegrad run (no peer is needed or imported); sizes are tiny and there
is one round.  No time is ever asserted: timings on a shared CI machine mean nothing here.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXPECTED = {"W1", "W2", "W3", "W4-f32", "W4-f64", "W5", "W6", "W7", "W10"}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--impls", "floor,tapegrad",
         "--out", str(out), "--no-chart", "--strict"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    return proc, out


def test_smoke_run_exits_cleanly(smoke_run):
    proc, _ = smoke_run
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "tapegrad targets" in proc.stdout  # the table and the target summary were printed


def test_smoke_json_written_and_checks_hold(smoke_run):
    proc, out = smoke_run
    latest = out / "latest.json"
    assert latest.exists(), proc.stdout + proc.stderr
    assert list(out.glob("results-*.json"))
    data = json.loads(latest.read_text())
    assert data["meta"]["smoke"] is True
    assert data["failures"] == []
    workloads = {w["id"]: w for w in data["workloads"]}
    assert EXPECTED <= set(workloads), EXPECTED - set(workloads)
    for wid, w in workloads.items():
        assert "error" not in w, w.get("error")
        rows = {r["impl"]: r for r in w["rows"]}
        assert set(rows) == {"floor", "tapegrad"}, (wid, set(rows))  # no peer was run
        for impl, row in rows.items():
            assert row["status"] == "ok", (wid, impl, row["status"], row["message"])
            assert "metrics" in row, (wid, impl)
        if wid == "W6":
            for impl, row in rows.items():
                sizes = row["sizes"]
                assert sizes and all(s["status"] == "ok" for s in sizes.values()), (impl, sizes)
                assert all(s["check"]["passed"] for s in sizes.values()), (impl, sizes)
        elif wid != "W10":
            assert rows["tapegrad"]["check"]["passed"], (wid, rows["tapegrad"]["check"])


def test_smoke_peers_not_imported():
    """The benchmark harness itself imports no peer until one is asked for."""
    code = ("import sys, benchmarks.run; "
            "bad = [m for m in ('torch', 'tensorflow', 'jax', 'autograd') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""Every benchmark script runs end to end in its ``--smoke`` mode (seconds, tiny data), so a
refactor cannot break one unseen. The scripts are found in ``benchmarks/``; a new one is
covered without editing this file, and must have the mode. A Python script runs as ``__main__``
in the test's process (``conftest.run_script_here``: no interpreter start, whatever it changes
in the process put back); the processes it starts itself (``train.py``, the plain loops) are
real ones."""

from __future__ import annotations

import subprocess

import pytest
from conftest import ROOT, run_script_here, subprocess_env

SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").iterdir()
                 if p.suffix in (".py", ".sh") and not p.name.startswith("_"))


def test_the_benchmarks_are_found():
    assert {"cells.py", "cifar10_cpu.py", "overhead.py", "time_to_accuracy.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_in_smoke_mode(script, tmp_path):
    results = ROOT / "benchmarks" / "results"
    before = sorted(results.rglob("*"))
    path = ROOT / "benchmarks" / script
    pythonpath = f"{ROOT / 'src'}:{ROOT / 'benchmarks'}"
    if script.endswith(".sh"):
        proc = subprocess.run(["bash", str(path), "--dry-run"], cwd=ROOT, env=subprocess_env(PYTHONPATH=pythonpath),
                              capture_output=True, text=True, timeout=240)
    else:
        proc = run_script_here(path, ["--smoke"], drop=("HYDRA_FULL_ERROR",), PYTHONPATH=pythonpath, WANDB_MODE="offline")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert proc.stdout.strip(), "a benchmark prints its figures"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert sorted(results.rglob("*")) == before, "a smoke run must not write into benchmarks/results"

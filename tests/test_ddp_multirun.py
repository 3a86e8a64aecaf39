"""DDP inside a multirun (trainer=ddp_cpu: gloo, 2 processes): one folder per trial, rank 0
alone logs, and no rank starts the sweep again."""

from __future__ import annotations

import csv
import json

from sweeps_support import multirun, results, tail
from wandb_records import summarize_when_complete as run_info


def test_ddp_trials_each_in_its_own_folder_logged_once_and_a_failed_one_does_not_kill_the_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    good = "seqvision.data.digits.DigitsDataModule"
    proc = multirun(["trainer=ddp_cpu", f"data._target_=sweeps_support.NaNDigits,{good}", "logger=many"], sweep,
                    timeout=400, WANDB_MODE="offline", SV_TEST_NAN_LOSS="1")
    assert proc.returncode == 0, tail(proc)
    got = results(sweep)
    assert sorted(got) == [0, 1], got
    assert got[0]["status"] == "failed" and "non-finite loss" in got[0]["error"], got[0]
    assert got[1]["status"] == "completed", got[1]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]  # no re-launched sweep folders
    assert not (tmp_path / "logs").exists(), "a rank wrote outside its trial's folder"
    assert json.loads((sweep / "sweep.json").read_text())["trials_total"] == 2
    for num, r in got.items():
        trial = sweep / str(num)
        assert r["job_num"] == num and r["sweep_id"] == "sweep"
        assert (trial / "ddp_rank0.log").is_file() and (trial / "ddp_rank1.log").is_file()  # two ranks ran
        runs = list(trial.glob("wandb/offline-run-*/run-*.wandb"))
        assert len(runs) == 1, runs  # one W&B run per trial, from rank 0
    trial = sweep / "1"
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in (trial / "ddp_rank1.log").read_text() + proc.stdout + proc.stderr
    rows = list(csv.DictReader((trial / "csv" / "metrics.csv").open()))
    assert sum(1 for row in rows if row["val/acc"]) == 1  # one epoch, one validation row: logged once
    assert sum(1 for row in rows if row.get("test/acc")) == 1
    assert (trial / "checkpoints" / "last.ckpt").is_file()
    info = run_info(next(trial.glob("wandb/offline-run-*/run-*.wandb")))
    assert info["run"].run_group == "train/sweep" and info["run"].display_name == f"data._target_={good}"
    assert info["summary"]["test/acc"] == got[1]["metrics"]["test/acc"]
    # the sweep process itself ran each trial once
    assert (proc.stdout + proc.stderr).count("Launching 2 jobs locally") == 1

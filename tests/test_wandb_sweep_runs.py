"""Each trial of a sweep is its own W&B run: finished when the trial ends, grouped by sweep
name and id, named after its swept overrides, with job_type, tags, the resolved config and
summary metrics. Offline mode: the run files are read back."""

from __future__ import annotations

import json

import pytest

from sweeps_support import NAN_ENV, multirun_here, results, tail
from wandb_records import summarize_when_complete as run_info

pytest.importorskip("wandb")


def test_one_grouped_named_finished_run_per_trial(tmp_path):
    sweep = tmp_path / "sweep"
    proc = multirun_here(["logger=many", "seed=1,2", "tags=[ablation,unit]",
                          "data._target_=seqvision.data.digits.DigitsDataModule,sweeps_support.NaNDigits"],
                         sweep, WANDB_MODE="offline", **{NAN_ENV: "1"})
    assert proc.returncode == 0, tail(proc)
    got = results(sweep)
    runs = {}
    for num in got:
        files = list((sweep / str(num)).glob("wandb/offline-run-*/run-*.wandb"))
        assert len(files) == 1, f"trial {num}: {files}"
        runs[num] = run_info(files[0])
    assert len({r["run"].run_id for r in runs.values()}) == 4
    for num, info in runs.items():
        run, r = info["run"], got[num]
        assert run.run_group == "train/sweep"  # <sweep name>/<sweep id>
        assert run.job_type == "train"
        assert list(run.tags) == ["ablation", "unit"]
        assert run.display_name == r["trial_name"]
        assert run.display_name.split(",") == sorted(run.display_name.split(","))
        assert {o.split("=")[0] for o in run.display_name.split(",")} == {"data._target_", "seed"}
        config = info["config"]
        assert config["model"]["net"]["_target_"] == "seqvision.nets.cnn.family"
        assert "${" not in json.dumps(config)  # fully resolved
        summary = info["summary"]
        assert summary["status"] == r["status"]
        if r["status"] == "completed":
            assert info["exit"] == 0
            assert summary["val/acc_best"] == pytest.approx(r["metrics"]["val/acc_best"])
            assert summary["test/acc"] == pytest.approx(r["metrics"]["test/acc"])
            assert summary["cost/train_flops"] == r["cost"]["train_flops"] > 0  # what it cost, beside what it scored
        else:
            assert "NaNDigits" in run.display_name and info["exit"] == 1
    assert sorted(r["status"] for r in got.values()) == ["completed", "completed", "failed", "failed"]

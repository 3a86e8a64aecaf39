"""A failing trial (a NaN loss, a bad config value) is recorded and the sweep goes on; re-running
the same sweep with resume=true skips the completed trial and runs the others again."""

from __future__ import annotations

import json

from sweeps_support import NAN_ENV, multirun_here, results, tail


def _args(batch_sizes: str) -> list[str]:
    return ["data._target_=seqvision.data.digits.DigitsDataModule,sweeps_support.NaNDigits",
            f"data.batch_size={batch_sizes}"]


def test_failed_trials_are_recorded_and_the_sweep_goes_on_then_resume_runs_only_the_rest(tmp_path):
    sweep = tmp_path / "sweep"
    args = _args("32,0")  # 4 trials: (digits, 32) ok, (digits, 0) config error, (nan, 32) NaN loss, (nan, 0) config error
    first = multirun_here(args, sweep, **{NAN_ENV: "1"})
    assert first.returncode == 0, tail(first)  # some trials failed, not all: the sweep succeeds
    summary = json.loads((sweep / "sweep.json").read_text())
    assert (summary["trials_total"], summary["completed"], summary["failed"]) == (4, 1, 3)
    got = results(sweep)
    assert sorted(got) == [0, 1, 2, 3]
    assert got[0]["status"] == "completed" and "test/acc" in got[0]["metrics"]
    assert got[1]["status"] == "failed" and "data.batch_size=0" in got[1]["error"]
    assert got[2]["status"] == "failed" and "non-finite loss" in got[2]["error"], got[2]
    assert (sweep / "0" / "checkpoints" / "last.ckpt").is_file()
    started_0 = got[0]["started_at"]

    # Resume: same command plus resume=true, the NaN cause gone. Trial 0 is not run again;
    # trial 2 (the NaN one) now completes; the config errors still fail.
    second = multirun_here([*args, "resume=true"], sweep, **{NAN_ENV: "0"})
    assert second.returncode == 0, tail(second)
    again = results(sweep)
    assert again[0]["started_at"] == started_0, "a completed trial was trained again"
    assert "completed before" in second.stdout + second.stderr
    assert again[2]["status"] == "completed", again[2]
    assert again[1]["status"] == again[3]["status"] == "failed"
    summary = json.loads((sweep / "sweep.json").read_text())
    assert (summary["completed"], summary["failed"]) == (2, 2)


def test_resume_refuses_a_folder_of_another_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    assert multirun_here(["seed=1"], sweep).returncode == 0
    other = multirun_here(["seed=2", "resume=true"], sweep)  # same folder, a different trial 0
    assert other.returncode != 0  # the only trial failed: the sweep fails
    assert "holds another trial" in json.loads((sweep / "sweep.json").read_text())["trials"][0]["error"]


def test_every_trial_failing_fails_the_command(tmp_path):
    proc = multirun_here(["data.batch_size=0,-1"], tmp_path / "sweep")
    assert proc.returncode != 0
    assert "2 of 2 trials failed" in proc.stdout + proc.stderr

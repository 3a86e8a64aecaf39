"""sweep=search (Optuna): failed trials are told to Optuna as FAIL and the study goes on; the
same command again continues the stored study, keeps the earlier trials' folders, runs only
the trials still missing, and samples new points rather than its first ones again."""

from __future__ import annotations

import json


from sweeps_support import NAN_ENV, multirun, results, tail

import optuna

# A small search space, plus the data module as a choice: NaNDigits trials fail (NaN loss).
ARGS = ["sweep=search", "hydra.sweeper.sampler.name=RandomSampler", "hydra.sweeper.sampler.seed=0", "hydra.sweeper.n_jobs=1",
        "data._target_=choice(seqvision.data.digits.DigitsDataModule,sweeps_support.NaNDigits)",
        "model.net.width=choice(8,16)", "data.batch_size=choice(32,64)", "optimizer.lr=interval(0.0001,0.1)"]


def _study(sweep):
    return optuna.load_study(study_name="search", storage=f"sqlite:///{sweep}/optuna.db")


def test_search_survives_failed_trials_and_resumes_its_study(tmp_path):
    sweep = tmp_path / "sweep"
    first = multirun([*ARGS, "hydra.sweeper.n_trials=3"], sweep, **{NAN_ENV: "1"})
    assert first.returncode == 0, tail(first)
    got = results(sweep)
    assert sorted(got) == [0, 1, 2]
    for r in got.values():
        nan = any("NaNDigits" in o for o in r["overrides"])
        assert r["status"] == ("failed" if nan else "completed"), r
        if nan:
            assert "non-finite loss" in r["error"]
    states = [t.state for t in _study(sweep).trials]
    completed = states.count(optuna.trial.TrialState.COMPLETE)
    assert len(states) == 3 and states.count(optuna.trial.TrialState.FAIL) == 3 - completed
    assert completed >= 1, "the seeded sampler should pick the plain data module at least once"
    best = (sweep / "optimization_results.yaml").read_text()
    assert "best_value" in best
    before = {n: r["started_at"] for n, r in got.items() if "started_at" in r}

    # The same command asking for 4 trials: only 4 - completed more run, numbered after the old ones.
    second = multirun([*ARGS, "hydra.sweeper.n_trials=4"], sweep, **{NAN_ENV: "1"})
    assert second.returncode == 0, tail(second)
    assert "Resuming study 'search': 3 trials so far" in second.stdout + second.stderr
    again = results(sweep)
    assert sorted(again) == list(range(3 + 4 - completed))
    assert {n: again[n]["started_at"] for n in before} == before  # earlier trials untouched
    study = _study(sweep)
    assert len(study.trials) == 3 + 4 - completed
    assert json.loads((sweep / str(len(study.trials) - 1) / "results.json").read_text())["job_num"] == len(study.trials) - 1
    # the seeded sampler went on (trial N samples with seed + N) instead of repeating the first call's points
    lrs = [t.params["optimizer.lr"] for t in study.trials]
    assert len(set(lrs)) == len(lrs), lrs


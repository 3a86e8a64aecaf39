"""sweep=search (Optuna): failed trials are told to Optuna as FAIL and the study goes on; the
same command again continues the stored study, keeps the earlier trials' folders, runs only
the trials still missing, and samples new points rather than its first ones again."""

from __future__ import annotations

import json


from sweeps_support import NAN_ENV, ROOT, multirun_here, results, tail

import optuna

# A small search space, plus the data module as a choice: NaNDigits trials fail (NaN loss).
ARGS = ["sweep=search", "hydra.sweeper.sampler.name=RandomSampler", "hydra.sweeper.sampler.seed=0", "hydra.sweeper.n_jobs=1",
        "data._target_=choice(seqvision.data.digits.DigitsDataModule,sweeps_support.NaNDigits)",
        "model.net.width=choice(8,16)", "data.batch_size=choice(32,64)", "optimizer.lr=interval(0.0001,0.1)"]


def _study(sweep):
    return optuna.load_study(study_name="search", storage=f"sqlite:///{sweep}/optuna.db")


def test_search_survives_failed_trials_and_resumes_its_study(tmp_path):
    sweep = tmp_path / "sweep"
    first = multirun_here([*ARGS, "hydra.sweeper.n_trials=3"], sweep, **{NAN_ENV: "1"})
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
    second = multirun_here([*ARGS, "hydra.sweeper.n_trials=4"], sweep, **{NAN_ENV: "1"})
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



def test_a_search_over_a_loss_minimizes_it_and_its_records_agree(tmp_path):
    """``optimized_metric=val/loss``: the study minimizes (the direction follows the metric), and
    the best trial of the study, of ``optimization_results.yaml`` and of the trials' own records
    is the one with the lowest loss."""
    import yaml

    sweep = tmp_path / "sweep"
    proc = multirun_here(["sweep=search", "optimized_metric=val/loss", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=1",
                     "hydra.sweeper.sampler.seed=0", "hydra.sweeper.params={}", "optimizer.lr=choice(0.00001,0.003,0.3)"],
                    sweep)
    assert proc.returncode == 0, tail(proc)
    study = _study(sweep)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    losses = {n: r["metrics"]["val/loss"] for n, r in results(sweep).items()}
    assert len(set(losses.values())) == 3  # three learning rates, three different losses
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    lowest = min(losses, key=losses.get)
    assert best["direction"] == "minimize" and best["metric"] == "val/loss"
    assert best["best_trial"] == study.best_trial.number == lowest
    assert best["best_value"] == min(losses.values())


def test_the_direction_follows_the_optimized_metric_unless_set():
    from conftest import compose as compose_run

    def direction(*overrides):
        from hydra import compose, initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        compose_run([])  # registers the resolvers
        GlobalHydra.instance().clear()
        with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
            return compose("train", overrides=["sweep=search", *overrides], return_hydra_config=True).hydra.sweeper.direction

    assert direction() == "maximize"  # val/acc_best, the classification task's best metric
    assert direction("optimized_metric=val/loss") == "minimize"
    assert direction("data=moving_mnist", "model=convlstm") == "minimize"  # val/mse_best
    assert direction("data=moving_mnist", "model=convlstm", "optimized_metric=test/ssim") == "maximize"
    assert direction("optimized_metric=val/loss", "hydra.sweeper.direction=maximize") == "maximize"

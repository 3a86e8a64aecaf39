"""A Hydra sweeper that drives an Optuna study through Optuna's ask-and-tell API, resumably.

``hydra-optuna-sweeper`` pins Optuna below 3 (2021) and cannot resume a study: a second call
runs ``n_trials`` more trials, numbers their folders from 0 over the old ones, and its seeded
sampler starts its sequence again, so a resumed search repeats the parameters it tried first.
Here the study lives in ``storage`` (SQLite in the sweep folder) and is opened with
``load_if_exists``; a call runs only the trials still missing to ``n_trials`` completed ones,
in folders numbered by Optuna's trial number; the sampler of a study that already holds N trials
is seeded with ``seed + N``, so a resumed search goes on instead of starting over; trials left
RUNNING by a killed sweep are told FAIL and their parameters asked again first; a failed trial
(an exception, a NaN loss, a non-finite value) is told FAIL and the study goes on while the
failed share stays within ``max_failure_rate``.

The search space is Hydra's sweep grammar, in ``hydra.sweeper.params`` or on the command line:
``choice(a, b)``, ``range(2, 5)`` (end excluded), ``interval(0.0, 0.5)`` and
``tag(log, interval(1e-4, 1e-1))`` for a log scale.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig, OmegaConf

from seqvision.files import write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)


class SearchFailed(RuntimeError):
    """More trials failed than ``max_failure_rate`` allows, or none completed."""


def distribution(override: Override):
    """The Optuna distribution of one sweep override (``choice``, ``range``, ``interval``)."""
    import optuna.distributions as d

    value = override.value()
    if isinstance(value, ChoiceSweep):
        return d.CategoricalDistribution(list(value.list))
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if all(float(v).is_integer() for v in (start, stop, step)):
            return d.IntDistribution(int(start), int(stop) - int(step), step=int(step))
        return d.CategoricalDistribution(list(override.sweep_iterator()))
    if isinstance(value, IntervalSweep):
        log_scale = "log" in value.tags
        if all(isinstance(v, int) for v in (value.start, value.end)):
            return d.IntDistribution(int(value.start), int(value.end), log=log_scale)
        return d.FloatDistribution(float(value.start), float(value.end), log=log_scale)
    raise ValueError(f"{override.input_line}: the search takes choice(...), range(...) or interval(...)")


class SearchSweeper(Sweeper):
    def __init__(self, params: dict[str, str] | None = None, n_trials: int = 20, n_jobs: int = 1,
                 direction: str = "maximize", study_name: str | None = None, storage: str | None = None,
                 sampler: dict[str, Any] | None = None, max_failure_rate: float = 1.0):
        self.params, self.n_trials, self.n_jobs = dict(params or {}), int(n_trials), max(1, int(n_jobs))
        self.direction, self.study_name, self.storage = direction, study_name, storage
        self.sampler = dict(sampler or {})
        self.max_failure_rate = float(max_failure_rate)

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(config=config, hydra_context=hydra_context,
                                                                task_function=task_function)

    # -- the search space -------------------------------------------------------------------------
    def _space(self, arguments: list[str]) -> tuple[dict[str, Any], list[str]]:
        """``(distributions by key, fixed overrides)`` from ``params`` and the command line."""
        parser = OverridesParser.create()
        lines = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        space, fixed = {}, []
        for override in parser.parse_overrides(lines):
            if override.is_sweep_override():
                space[override.get_key_element()] = distribution(override)
            else:
                fixed.append(override.input_line)
        return space, fixed

    def _sampler(self, already: int):
        import optuna

        name = self.sampler.get("name", "TPESampler")
        cls = getattr(optuna.samplers, name, None)
        if cls is None:
            raise ValueError(f"hydra.sweeper.sampler.name={name!r} is not in optuna.samplers; e.g. TPESampler")
        kwargs = dict(self.sampler.get("kwargs") or {})
        if self.sampler.get("seed") is not None:
            kwargs["seed"] = int(self.sampler["seed"]) + already  # trial N draws with seed + N: no repeats on resume
        return cls(**kwargs)

    # -- the sweep ------------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> list:
        import optuna

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)  # holds the SQLite file
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        study = optuna.create_study(study_name=self.study_name, storage=self.storage, direction=self.direction,
                                    load_if_exists=True)
        retry = self._fail_interrupted(study)
        completed = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        missing = max(0, self.n_trials - completed)
        if study.trials:
            log.info("Resuming study %r: %d trials so far (%d completed); running %d more", study.study_name,
                     len(study.trials), completed, missing)
        study.sampler = self._sampler(len(study.trials))
        for params in retry:
            study.enqueue_trial(params)
        space, fixed = self._space(arguments)
        returns, asked = [], 0
        while asked < missing:
            trials = [study.ask(space) for _ in range(min(self.n_jobs, missing - asked))]
            asked += len(trials)
            batch = [fixed + [f"{k}={v}" for k, v in t.params.items()] for t in trials]
            results = self.launcher.launch(batch, initial_job_idx=trials[0].number)
            returns.append(results)
            for trial, ret in zip(trials, results):
                self._tell(study, trial, ret)
            self._check_failures(study)
        self._write_results(study, sweep_dir)
        return returns

    @staticmethod
    def _fail_interrupted(study) -> list[dict[str, Any]]:
        """Trials a killed sweep left RUNNING are told FAIL; their parameters are returned to be asked again."""
        import optuna

        retry = []
        for t in study.trials:
            if t.state == optuna.trial.TrialState.RUNNING:
                study.tell(t.number, state=optuna.trial.TrialState.FAIL)
                retry.append(t.params)
        return retry

    def _tell(self, study, trial, ret) -> None:
        import optuna

        value = ret.return_value if ret.status == JobStatus.COMPLETED else None
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            metric = self.config.get("optimized_metric")
            if ret.status != JobStatus.COMPLETED:
                why = ret._return_value
            elif value is None:
                why = f"the run completed but logged no {metric} (e.g. it never validated), so the study cannot rank it"
            else:
                why = f"{metric} was {value!r}"
            log.warning("trial %d failed: %s", trial.number, why)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, float(value))

    def _check_failures(self, study) -> None:
        import optuna

        finished = [t for t in study.trials if t.state.is_finished()]
        failed = [t for t in finished if t.state == optuna.trial.TrialState.FAIL]
        if finished and len(failed) / len(finished) > self.max_failure_rate:
            raise SearchFailed(f"{len(failed)} of {len(finished)} trials failed (max_failure_rate="
                               f"{self.max_failure_rate}); their errors are in {self.config.hydra.sweep.dir}/*/results.json")

    def _write_results(self, study, sweep_dir: Path) -> None:
        import optuna

        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not done:
            raise SearchFailed(f"no trial of study {study.study_name!r} completed; their errors are in "
                               f"{sweep_dir}/*/results.json")
        best = study.best_trial
        write_text_atomic(sweep_dir / "optimization_results.yaml", OmegaConf.to_yaml(
            {"name": "search", "metric": self.config.get("optimized_metric"), "direction": self.direction,
             "best_trial": best.number, "best_params": best.params, "best_value": best.value}))
        write_json_atomic(sweep_dir / "search.json", {
            "study": study.study_name, "metric": self.config.get("optimized_metric"), "direction": self.direction, "best_trial": best.number,
            "trials": [{"number": t.number, "state": t.state.name, "params": t.params, "value": t.value}
                       for t in study.trials]})

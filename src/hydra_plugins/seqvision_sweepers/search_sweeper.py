"""The Optuna sweeper (hydra-optuna-sweeper), made resumable.

With ``storage`` set, Optuna already keeps the study, but the plugin would run ``n_trials``
*more* trials on every call and number their folders from 0 again, over the old ones. Here a
call on an existing study first marks trials left RUNNING by a killed sweep as FAIL, then runs
only the trials still missing to ``n_trials`` completed ones, in folders numbered after the
study's last trial. Failed trials are told to Optuna as FAIL (``max_failure_rate`` decides
whether the study goes on) and recorded in their ``results.json`` by ``seqvision.sweep.runner``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

log = logging.getLogger(__name__)


def _resuming_impl_class():
    """Built on first use: importing the Optuna implementation imports optuna (about 1.6 s),
    and Hydra imports every plugin module on every start, ``--help`` included."""
    from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl

    class _ResumingImpl(OptunaSweeperImpl):
        def _existing_study(self):
            import optuna

            if not self.storage or not self.study_name:
                return None
            try:
                return optuna.load_study(study_name=self.study_name, storage=self.storage)
            except KeyError:  # no such study yet
                return None

        def sweep(self, arguments: list[str]) -> None:
            import optuna

            Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)  # holds the SQLite file
            study = self._existing_study()
            if study is not None:
                for t in study.trials:
                    if t.state == optuna.trial.TrialState.RUNNING:
                        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
                trials = study.trials
                completed = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
                self.job_idx = len(trials)
                missing = max(0, self.n_trials - completed)
                log.info("Resuming study %r: %d trials so far (%d completed); running %d more", self.study_name,
                         len(trials), completed, missing)
                self.n_trials = missing
            try:
                return super().sweep(arguments)
            except ValueError as err:  # Optuna's best_trial of a study without one completed trial
                if "Record does not exist" not in str(err) and "No trials are completed" not in str(err):
                    raise
                raise RuntimeError(f"no trial of study {self.study_name!r} completed; their errors are in "
                                   f"{self.config.hydra.sweep.dir}/*/results.json") from err

    return _ResumingImpl


class SearchSweeper(OptunaSweeper):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        resuming = _resuming_impl_class()
        impl = resuming.__new__(resuming)
        impl.__dict__.update(self.sweeper.__dict__)
        self.sweeper = impl

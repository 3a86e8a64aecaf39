"""``results.json``: what a run did, written whatever way it ends.

The record is what sweeps, the report and resume read instead of live objects: status, final
metrics, seed, checkpoints, wall time, the data report, and what the caller added (a sweep's
trial identity and the hardware it was given). It is written once, atomically, by rank 0, in
a ``finally``: a run that fails leaves ``status: failed`` with the error, never no record.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from seqvision.errors import TrainingError
from seqvision.files import write_json_atomic
from seqvision.secrets import redact

log = logging.getLogger(__name__)


class RunRecord:
    def __init__(self, cfg: DictConfig, output_dir: Path, record: dict[str, Any] | None, speed: dict[str, Any]):
        self.cfg, self.output_dir = cfg, output_dir
        self.started = time.time()
        self.results: dict[str, Any] = {"status": "running", "task_name": cfg.task_name, "seed": cfg.seed,
                                        "run_dir": str(output_dir), "overrides": [], **redact(record or {}),
                                        "started_at": self.started, "speed": speed, "metrics": {}}

    @staticmethod
    def scalars(metrics: dict) -> dict[str, float]:
        out = {}
        for k, v in metrics.items():
            try:
                out[k] = float(v)
            except (TypeError, ValueError):
                continue
        return out

    def completed(self, metrics: dict[str, float], data: dict | None) -> None:
        self.results.update(status="completed", metrics=metrics, data=data)

    @contextmanager
    def kept(self, trainer, loggers: list):
        """Around fit and test: a failure is recorded as such, and the record is always written."""
        try:
            yield self
        except TrainingError as err:  # the loop stopped on a fault: the metrics so far are worth keeping
            self.results.update(status="failed", error=str(err), metrics=self.scalars(trainer.callback_metrics))
            raise
        except BaseException as err:
            self.results.update(status="failed", error=f"{type(err).__name__}: {err}")
            raise
        finally:
            last = self.output_dir / "checkpoints" / "last.ckpt"
            ckpt_cb = trainer.checkpoint_callback
            self.results.update(
                epochs=trainer.current_epoch, global_step=trainer.global_step,
                wall_time_s=round(time.time() - self.started, 3), ended_at=time.time(),
                best_checkpoint=getattr(ckpt_cb, "best_model_path", None) or None,
                last_checkpoint=str(last) if last.exists() else None,
                optimized_metric=self.cfg.get("optimized_metric"))
            if trainer.is_global_zero:
                write_json_atomic(self.output_dir / "results.json", self.results)
            for logger in loggers:
                _finish(logger, self.results)

    def optimized_value(self) -> float | None:
        """The value of ``optimized_metric`` for Hydra's sweepers, or None when the run did not log
        it (a run asked not to validate, say). The run did what it was asked and succeeds either
        way; whether a missing value is a problem is the sweeper's to say (the search records
        such a trial as failed, naming the metric)."""
        name, metrics = self.cfg.get("optimized_metric"), self.results["metrics"]
        if name and name not in metrics and self.cfg.get("train", True) and self.results.get("sweep"):
            log.warning("optimized_metric=%s was not logged by this run (logged: %s); a sweeper gets no value from it",
                        name, ", ".join(sorted(metrics)) or "nothing")
        return metrics.get(name) if name else None


def _finish(logger, results: dict) -> None:
    """Puts summary metrics and cost on the W&B run and closes it, so the next trial of a sweep starts a new run.
    W&B's service process may be gone (a scheduler stopping a job signals all its processes at
    once): the run's files stay, and the run's own outcome is not replaced by W&B's error."""
    from pytorch_lightning.loggers import WandbLogger

    if isinstance(logger, WandbLogger) and logger._experiment is not None:
        run = logger.experiment
        try:
            for k, v in results.get("metrics", {}).items():
                run.summary[k] = v
            for k, v in (results.get("cost") or {}).items():  # what the run cost, beside what it scored
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    run.summary[f"cost/{k}"] = v
            run.summary["status"] = results["status"]
            run.finish(exit_code=0 if results["status"] == "completed" else 1)
        except Exception as err:  # noqa: BLE001 - W&B's own failure, reported and left behind
            log.warning("W&B: the run could not be finished (%s: %s); its files stay in %s", type(err).__name__, err,
                        getattr(run, "dir", "its folder"))

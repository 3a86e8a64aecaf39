"""Hydra's basic (grid) sweeper, except that one failed trial does not end the sweep.

``BasicSweeper`` re-raises the first failed job once its batch returns, so with
``max_batch_size`` set every later batch is lost, and the whole sweep exits with a traceback.
Here each trial's outcome is written to ``<sweep dir>/sweep.json`` (overrides, status, error)
and, for a trial that failed before ``run.py`` could write its own, to the trial's
``results.json``; the sweep runs every trial, then fails only if more than
``max_failure_rate`` of them failed (all of them, by default a broken command).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from seqvision.files import write_json_atomic
from seqvision.sweep.trial import read_results

log = logging.getLogger(__name__)


class SweepFailed(RuntimeError):
    """More trials failed than ``hydra.sweeper.max_failure_rate`` allows."""


class AblationSweeper(BasicSweeper):
    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None,
                 max_failure_rate: float = 0.999) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.max_failure_rate = max_failure_rate

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        self.overrides = self.split_arguments(parser.parse_overrides(self._parse_config() + list(arguments)),
                                              self.max_batch_size)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        started, records, returns, job_idx = time.time(), [], [], 0
        total = sum(len(b) for b in self.overrides)
        while not self.is_done():
            batch = self.get_job_batch()
            self.validate_batch_is_legal(batch)
            results = self.launcher.launch(batch, initial_job_idx=job_idx)
            records += [self._record(job_idx + i, r) for i, r in enumerate(results)]
            job_idx += len(batch)
            returns.append(results)
            self._write(sweep_dir, records, total, started)
        failed = [r for r in records if r["status"] != "completed"]
        log.info("Sweep %s: %d of %d trials completed, %d failed", sweep_dir, len(records) - len(failed),
                 len(records), len(failed))
        for r in failed:
            log.warning("  trial #%d (%s) failed: %s", r["job_num"], " ".join(r["overrides"]), r["error"])
        if records and len(failed) / len(records) > self.max_failure_rate:
            raise SweepFailed(f"{len(failed)} of {len(records)} trials failed (max_failure_rate="
                              f"{self.max_failure_rate}); first error: {failed[0]['error']}; see {sweep_dir}/sweep.json")
        return returns

    @staticmethod
    def _record(job_num: int, ret: JobReturn) -> dict[str, Any]:
        from seqvision.secrets import redact

        return redact(AblationSweeper._outcome(job_num, ret))

    @staticmethod
    def _outcome(job_num: int, ret: JobReturn) -> dict[str, Any]:
        output_dir = OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir") if ret.hydra_cfg else None
        folder = Path(output_dir) if output_dir else None  # the trial's folder (working_dir is the cwd)
        record = {"job_num": job_num, "overrides": list(ret.overrides or []), "dir": str(folder) if folder else None}
        if ret.status == JobStatus.COMPLETED:
            return {**record, "status": "completed", "error": None}
        err = ret._return_value
        record.update(status="failed", error=f"{type(err).__name__}: {err}")
        if folder is not None and read_results(folder) is None:  # failed before run.py wrote its record
            from seqvision.secrets import redact

            write_json_atomic(folder / "results.json", redact({**record, "metrics": {}}))
        return record

    def _write(self, sweep_dir: Path, records: list[dict], total: int, started: float) -> None:
        summary = {"sweep_dir": str(sweep_dir), "trials_total": total, "trials_done": len(records),
                   "completed": sum(r["status"] == "completed" for r in records),
                   "failed": sum(r["status"] != "completed" for r in records),
                   "wall_time_s": round(time.time() - started, 3), "trials": records}
        write_json_atomic(sweep_dir / "sweep.json", summary)

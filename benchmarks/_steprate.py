"""A callback the benchmarks add to ``train.py`` from the command line, to time it from inside:

    python train.py ... +callbacks.steprate._target_=_steprate.StepRate   (benchmarks/ on PYTHONPATH)

It prints one ``STEPRATE {...}`` JSON line at the end of fitting: seconds from the launch
(``SEQVISION_LAUNCH_T``, set by the benchmark just before it starts the process) to the
first training batch, and the steady-state steps per second after ``warmup`` steps.
"""

from __future__ import annotations

import json
import os
import time

import pytorch_lightning as pl


class StepRate(pl.Callback):
    def __init__(self, warmup: int = 10):
        self.warmup, self.stamps, self.first_step_s = warmup, [], None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self.first_step_s is None and os.environ.get("SEQVISION_LAUNCH_T"):
            self.first_step_s = time.time() - float(os.environ["SEQVISION_LAUNCH_T"])
        self.stamps.append(now)

    def on_train_end(self, trainer, pl_module) -> None:
        self.stamps.append(time.perf_counter())
        timed = self.stamps[self.warmup:]
        rate = (len(timed) - 1) / (timed[-1] - timed[0]) if len(timed) > 1 else float("nan")
        print("STEPRATE " + json.dumps({"steps_per_s": rate, "timed_steps": len(timed) - 1,
                                        "first_step_s": self.first_step_s}), flush=True)

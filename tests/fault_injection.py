"""Runs ``train.py`` with fault-injection points, so a test can SIGKILL it at an exact moment.

Usage: ``python tests/fault_injection.py <train.py overrides>``, with one of

* ``SV_PAUSE_AT_STEP=N``: after global step N (and any checkpoint written at that step);
* ``SV_PAUSE_AT_EPOCH_START=E``: as epoch E starts, i.e. after every hook and checkpoint of
  epoch E-1 (an epoch boundary);
* ``SV_PAUSE_IN_SAVE=<file name>@<global step>``: inside the write of that checkpoint, after
  half of its bytes are in the temporary file and before the rename;
* ``SV_NAN_AT_STEP=N``: the loss of the N-th training step (1-based) is NaN;

the process writes the file ``SV_PAUSE_MARKER`` and sleeps until it is killed. Production code
has no test hooks: the pauses are monkeypatched in here.
"""

from __future__ import annotations

import io
import os
import runpy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pause_forever() -> None:
    Path(os.environ["SV_PAUSE_MARKER"]).write_text(str(os.getpid()))
    while True:
        time.sleep(60)


def _install() -> None:
    import torch

    from seqvision.callbacks import atomic_checkpoint_io
    from seqvision.tasks.classify import ClassificationTask

    if "SV_PAUSE_AT_STEP" in os.environ:
        import pytorch_lightning as pl

        at = int(os.environ["SV_PAUSE_AT_STEP"])
        original = pl.LightningModule.on_train_batch_end  # every task's (none overrides the hook)

        def on_train_batch_end(self, outputs, batch, batch_idx):
            original(self, outputs, batch, batch_idx)
            if self.trainer.global_step == at:
                _pause_forever()

        pl.LightningModule.on_train_batch_end = on_train_batch_end

    if "SV_NAN_AT_STEP" in os.environ:
        nan_step = int(os.environ["SV_NAN_AT_STEP"])
        training_step = ClassificationTask.training_step

        def poisoned_training_step(self, batch, batch_idx):
            loss = training_step(self, batch, batch_idx)
            return loss * float("nan") if self.trainer.global_step + 1 == nan_step else loss

        ClassificationTask.training_step = poisoned_training_step

    if "SV_PAUSE_AT_EPOCH_START" in os.environ:
        epoch = int(os.environ["SV_PAUSE_AT_EPOCH_START"])

        def on_train_epoch_start(self):
            if self.trainer.current_epoch == epoch:
                _pause_forever()

        ClassificationTask.on_train_epoch_start = on_train_epoch_start

    if "SV_PAUSE_IN_SAVE" in os.environ:
        name, step = os.environ["SV_PAUSE_IN_SAVE"].rsplit("@", 1)

        from seqvision.files import write_atomic

        def half_save(path, obj, fsync=False):
            def write(f):
                if not (Path(f.name).name.startswith(f".{name}.tmp") and obj.get("global_step") == int(step)):
                    return torch.save(obj, f)
                buf = io.BytesIO()
                torch.save(obj, buf)
                data = buf.getvalue()
                f.write(data[: len(data) // 2])
                f.flush()
                os.fsync(f.fileno())
                _pause_forever()

            return write_atomic(path, write, fsync=fsync)

        atomic_checkpoint_io.torch_save_atomic = half_save


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    _install()
    sys.argv = [str(ROOT / "train.py"), *sys.argv[1:]]
    runpy.run_path(str(ROOT / "train.py"), run_name="__main__")

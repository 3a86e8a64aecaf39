"""Checkpoints written atomically: a temporary file in the same folder, fsync, then rename.

A run killed while saving leaves the previous ``last.ckpt`` intact (rename is atomic on POSIX
file systems), so ``resume=true`` always finds a loadable checkpoint. The killed write leaves
its ``.<name>.tmp<pid>`` behind; the run driver deletes those when a run resumes.
"""

from __future__ import annotations

from typing import Any

from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from seqvision.files import torch_save_atomic


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        torch_save_atomic(path, checkpoint, fsync=True)

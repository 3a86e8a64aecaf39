"""Checkpoints written atomically: a temporary file in the same folder, fsync, then rename.

A run killed while saving leaves the previous ``last.ckpt`` intact (rename is atomic on POSIX
file systems), so ``resume=true`` always finds a loadable checkpoint. The killed write leaves
its ``.<name>.tmp<pid>`` behind; ``remove_stale_tmp`` deletes those when a run resumes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO


def tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def remove_stale_tmp(folder: Path) -> list[Path]:
    """Deletes half-written checkpoints of killed runs (never a finished ``*.ckpt``)."""
    stale = [p for p in folder.glob(".*.ckpt.tmp*") if p.is_file()] if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_path(path)
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

"""Paths and writes shared by every layer: user paths resolved one way, files written atomically.

A relative path on the command line (``data.root=../shared/data``) means relative to where the
command was started, not to Hydra's run folder or the process's current directory. Every file
a run leaves (``results.json``, checkpoints, caches, ``sweep.json``, the W&B run id) is written
to a temporary name in the same folder and renamed, so a run killed mid-write leaves the
previous file or none, never half of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def resolve_path(path: str | os.PathLike) -> Path:
    """``~`` expanded; a relative path taken relative to the directory the command started in."""
    path = Path(os.path.expanduser(str(path)))
    if path.is_absolute():
        return path
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.utils import get_original_cwd

        if HydraConfig.initialized():
            return Path(get_original_cwd()) / path
    except (ImportError, ValueError):
        pass
    return Path.cwd() / path


def temporary_name(path: Path) -> Path:
    """``.<name>.tmp<pid>`` beside ``path``: hidden, unique per process, same file system."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], Any], fsync: bool = False) -> Path:
    """Calls ``write(file)`` on a temporary file beside ``path``, then renames it onto ``path``.
    ``fsync`` also forces the bytes to disk before the rename (checkpoints: a power cut must not
    leave a renamed but empty file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_atomic(path, lambda f: f.write(text.encode()))


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    return write_text_atomic(path, json.dumps(payload, indent=2, default=str))


def torch_save_atomic(path: str | os.PathLike, obj: Any, fsync: bool = False) -> Path:
    import torch

    return write_atomic(path, lambda f: torch.save(obj, f), fsync=fsync)


def remove_stale_temporaries(folder: Path, pattern: str = ".*.tmp*") -> list[Path]:
    """Deletes the temporary files that killed writes left in ``folder``; returns them."""
    stale = [p for p in folder.glob(pattern) if p.is_file()] if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale

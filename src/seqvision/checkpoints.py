"""Which checkpoint a command means, and whether it is one this command can load.

``ckpt_path`` takes a ``.ckpt`` file or a run folder. A run folder means the checkpoint its
training run tested, the best one by the task's metric: the path recorded in its
``results.json`` (``best_checkpoint``), or, for a run killed before it wrote one, the path the
checkpoint callback recorded in ``last.ckpt``. ``best`` and ``last`` alone name a checkpoint of
*this* run, which an evaluation-only command (``train=false``) does not have, so they are
refused there instead of silently scoring an untrained net.

A checkpoint inside a run folder (``<run>/checkpoints/*.ckpt``) belongs to that run; the command
line replays the run's overrides before evaluating it (``seqvision.cli``), so the net, the data
split and the test-time switches are the ones the run was trained and tested with.

Kept free of torch imports at module level: the command line uses it before anything heavy loads.
"""

from __future__ import annotations

import json
from pathlib import Path

RUN_MARKERS = (".hydra", "checkpoints", "results.json")


def run_folder_of(path: Path) -> Path | None:
    """The run folder ``path`` names or lies in: the folder itself, the folder of its
    ``checkpoints/``, or None when ``path`` belongs to no run folder."""
    path = Path(path)
    for candidate in (path, path.parent, path.parent.parent):
        if candidate.is_dir() and any((candidate / m).exists() for m in RUN_MARKERS) and candidate.name != "checkpoints":
            return candidate
    return None


def _recorded_best(run_dir: Path) -> Path | None:
    """The best checkpoint ``results.json`` names; a moved folder is looked up by file name."""
    try:
        recorded = json.loads((run_dir / "results.json").read_text()).get("best_checkpoint")
    except (OSError, json.JSONDecodeError):
        return None
    if not recorded:
        return None
    for path in (Path(recorded), run_dir / "checkpoints" / Path(recorded).name):
        if path.is_file():
            return path
    return None


def _callback_best(run_dir: Path) -> Path | None:
    """The best path the checkpoint callback stored in ``last.ckpt`` (a run killed before its
    ``results.json`` was written)."""
    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return None
    import torch

    try:
        ckpt = torch.load(last, map_location="cpu", mmap=True, weights_only=False)
    except Exception:
        return None
    for key, state in (ckpt.get("callbacks") or {}).items():
        if str(key).startswith("ModelCheckpoint") and isinstance(state, dict) and state.get("best_model_path"):
            path = Path(state["best_model_path"])
            for candidate in (path, run_dir / "checkpoints" / path.name):
                if candidate.is_file() and candidate.name != "last.ckpt":
                    return candidate
    return None


def best_of_run(run_dir: Path) -> Path | None:
    """The checkpoint a training run tested (its best by the task's metric), or None."""
    return _recorded_best(run_dir) or _callback_best(run_dir)


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` is not a Lightning checkpoint, or None. Memory-maps the file, so a large
    checkpoint costs no reading; a file ``torch.save`` did not write is named before any work."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return "not a file written by torch.save"
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"torch.load failed: {first}"
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        return "torch.load gives no 'state_dict': it holds something other than a training checkpoint"
    return None


def to_evaluate(ckpt_path: str, resolve) -> tuple[Path | None, str | None]:
    """``(checkpoint file, None)`` for what ``ckpt_path`` names in an evaluation-only run, or
    ``(None, why not)``. ``resolve`` turns the user's path into an absolute one."""
    if ckpt_path in ("best", "last"):
        return None, (f"ckpt_path={ckpt_path} names a checkpoint of this run, and train=false trains nothing, so there "
                      f"is none; valid: a .ckpt file, or a run folder (its best checkpoint, the one its test used); "
                      f"e.g. ckpt_path=logs/train/runs/<date>/<time>")
    path = Path(resolve(ckpt_path))
    if path.is_dir():
        run_dir = run_folder_of(path)
        best = best_of_run(run_dir) if run_dir is not None else None
        if best is None:
            hint = f"{path}/checkpoints/last.ckpt" if (path / "checkpoints" / "last.ckpt").is_file() else "<run folder>/checkpoints/<file>.ckpt"
            return None, (f"ckpt_path={ckpt_path!r}: {path} holds no best checkpoint (no results.json naming one, no "
                          f"checkpoint callback record in last.ckpt); valid: a run folder that finished an epoch, or a "
                          f".ckpt file; e.g. ckpt_path={hint}")
        return best, None
    if not path.is_file():
        return None, (f"ckpt_path={ckpt_path!r}: no such file or folder; valid: a .ckpt file or a run folder; "
                      f"e.g. ckpt_path=<run folder>/checkpoints/last.ckpt")
    return path, None


def weights_mismatch(module, path: Path) -> str | None:
    """Why the weights in ``path`` cannot be loaded into ``module`` (keys missing or unexpected,
    shapes that differ), in one line, or None when they fit."""
    import torch

    saved = torch.load(path, map_location="cpu", mmap=True, weights_only=False)["state_dict"]
    own = module.state_dict()
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    shapes = [f"{k} {tuple(saved[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in saved and hasattr(saved[k], "shape") and tuple(saved[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or shapes):
        return None
    parts = [f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
             f"{len(unexpected)} unexpected (e.g. {unexpected[0]})" if unexpected else "",
             f"{len(shapes)} of another shape (e.g. {shapes[0]})" if shapes else ""]
    return "; ".join(p for p in parts if p)

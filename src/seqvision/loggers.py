"""Loggers. W&B decides between online and offline *before* it can hang; the CSV log survives a resume.

Left alone, ``wandb.init`` waits about two minutes on an unreachable server. Here we check
for credentials and a TCP route first (a few seconds at most) and fall back to offline mode
with one line saying so; ``wandb sync <run dir>`` uploads the run later.

The W&B run id is kept in ``<run folder>/wandb/run_id``: a resumed run (``resume=true``)
logs to the same W&B run (``resume="allow"``) instead of starting a second one.

Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when a new process opens the same
folder ("Previous log files in this directory will be deleted"), so a run resumed after a kill
or a SLURM requeue would keep only the epochs after the resume, and the report's learning
curves would start in the middle. ``ResumableCSVLogger`` keeps the earlier rows, except those at
or after the first step the new process logs: the steps it replays from its checkpoint would
otherwise be there twice.
"""

from __future__ import annotations

import csv
import logging
import math
import netrc
import os
import socket
from urllib.parse import urlparse

from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment

from seqvision.files import write_text_atomic

log = logging.getLogger(__name__)


def _has_credentials(host: str) -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        path = os.environ.get("NETRC", os.path.expanduser("~/.netrc"))
        return netrc.netrc(path).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def _reachable(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wandb_mode(timeout: float = 3.0) -> tuple[str, str]:
    """Returns ``(mode, reason)``: ``WANDB_MODE`` if set, else online only when it can work."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"], "WANDB_MODE is set"
    url = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"))
    host, port = url.hostname or "api.wandb.ai", url.port or (443 if url.scheme == "https" else 80)
    if not _has_credentials(host):
        return "offline", "no W&B credentials (WANDB_API_KEY or `wandb login`)"
    if not _reachable(host, port, timeout):
        return "offline", f"{host}:{port} is unreachable"
    return "online", "credentials found and server reachable"


def persistent_run_id(save_dir: str | os.PathLike) -> str:
    """The W&B run id of this run folder, created on first use and read back on resume."""
    from pathlib import Path

    path = Path(save_dir) / "wandb" / "run_id"
    if path.is_file() and (saved := path.read_text().strip()):
        return saved
    import random
    import string

    # the OS's randomness, not the seeded generators: creating an id must not shift the run's draws
    run_id = "".join(random.SystemRandom().choice(string.ascii_lowercase + string.digits) for _ in range(8))
    write_text_atomic(path, run_id)
    return run_id


def wandb_logger(**kwargs):
    """A ``WandbLogger`` that never hangs: offline, with one line of explanation, when it must."""
    from pytorch_lightning.loggers import WandbLogger

    mode, reason = wandb_mode()
    if mode != "online":
        log.warning("W&B: logging offline (%s); upload later with `wandb sync %s`", reason,
                    os.path.join(kwargs.get("save_dir", "."), "wandb", "offline-run-*"))
    kwargs.setdefault("settings", None)
    settings = kwargs.pop("settings")
    import wandb

    settings = wandb.Settings(init_timeout=30, **(settings or {}))
    if kwargs.get("save_dir") and not kwargs.get("id"):
        kwargs["id"] = persistent_run_id(kwargs["save_dir"])
        kwargs.setdefault("resume", "allow")
    extra = {} if mode in ("online", "offline") else {"mode": mode}  # e.g. WANDB_MODE=disabled
    return WandbLogger(offline=mode == "offline", settings=settings, **extra, **kwargs)


class _KeepingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        """Reads the earlier rows instead of deleting the file (``log_dir`` is this run's own)."""
        self._earlier: list[dict[str, str]] | None = None
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self._earlier = list(csv.DictReader(f))

    def save(self) -> None:
        if self._earlier is not None and self.metrics:
            first = min(float(m.get("step", math.inf)) for m in self.metrics)
            kept = [row for row in self._earlier if row.get("step") not in (None, "") and float(row["step"]) < first]
            keys = sorted({k for row in kept for k in row} | set(self.metrics_keys))
            with self._fs.open(self.metrics_file_path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=keys)
                writer.writeheader()
                writer.writerows(kept)
            self.metrics_keys, self._earlier = keys, None
        super().save()


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` with ``metrics.csv`` kept across a resume (see the module docstring)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(log_dir=self.log_dir)
        return self._experiment

"""Keeps API keys and other secrets out of everything a run writes.

Secrets reach a run through the environment (``WANDB_API_KEY``, ``AWS_SECRET_ACCESS_KEY``,
``HF_TOKEN``...) and, by mistake, through the command line (``+logger.wandb.api_key=...``).
What a run writes (the config logged to CSV/TensorBoard/W&B, ``results.json``, Hydra's
``.hydra/*.yaml``, the log file) goes through ``redact``: config keys that name a secret get
``***`` as their value, and any secret value from the environment is replaced wherever it
appears. Checkpoints hold no config (tasks do not call ``save_hyperparameters``), so they
cannot carry one; ``tests/test_secrets.py`` greps every output file, binary ones included.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqvision.files import write_text_atomic

MASK = "***"
# a name part, so WANDB_API_KEY, HF_TOKEN, db.password match and max_tokens, tokenizer do not
SECRET_NAME = re.compile(r"(?:^|[_.\-])(api[_-]?key|apikey|access[_-]?key|token|secret|password|passwd|"
                         r"credentials?|private[_-]?key)(?:$|[_.\-])", re.I)
_NAMES = r"(?:api[_-]?key|apikey|access[_-]?key|token|secret|password|passwd|credentials?|private[_-]?key)"
# key=value or key: value on one line, where the key contains a secret name (checked exactly below)
_ASSIGNMENT = re.compile(rf"((?:[\w\-]+\.)*[\w\-]*{_NAMES}[\w\-]*)([ \t]*[=:][ \t]*)([^\s,'\"\]}}]+)", re.I)
MIN_SECRET_LEN = 6  # shorter values ("1", "true") would redact ordinary text


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of environment variables whose name says they are secret, longest first."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, values: list[str] | None = None) -> str:
    for v in secret_values() if values is None else values:
        text = text.replace(v, MASK)
    return _redact_assignments(text)


def _redact_assignments(text: str) -> str:
    """``...api_key=abc`` or ``api_key: abc`` on a command line or in YAML."""
    return _ASSIGNMENT.sub(lambda m: m.group(1) + m.group(2) + MASK if SECRET_NAME.search(m.group(1)) else m.group(0), text)


def redact(obj: Any, values: list[str] | None = None) -> Any:
    """A copy of a nested dict/list/str with secret-named keys masked and secret values replaced."""
    values = secret_values() if values is None else values
    if isinstance(obj, dict):
        return {k: (MASK if isinstance(k, str) and SECRET_NAME.search(k) and v not in (None, "")
                    else redact(v, values)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact(v, values) for v in obj)
    if isinstance(obj, str):
        return redact_text(obj, values)
    return obj


def scrub_files(folder: Path, patterns: tuple[str, ...] = ("*.yaml",)) -> None:
    """Rewrites text files in ``folder`` (Hydra's ``.hydra/``) with secrets masked."""
    values = secret_values()
    for pattern in patterns:
        for path in folder.glob(pattern):
            text = path.read_text()
            clean = redact_text(text, values)
            if clean != text:
                write_text_atomic(path, clean)


class RedactingFilter(logging.Filter):
    """Masks secrets in every log record before a handler formats it (console and log file)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


@contextmanager
def redacted_argv():
    """``sys.argv`` with secrets masked while a logger records it (W&B stores the command line)."""
    saved = sys.argv[:]
    sys.argv[:] = redact(saved)
    try:
        yield
    finally:
        sys.argv[:] = saved


def install_log_filter() -> None:
    """Handlers, not loggers, get the filter: records from child loggers skip loggers' filters."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def scrub_hydra_outputs() -> None:
    """Hydra has written ``.hydra/*.yaml`` (config, overrides) before the run starts; mask secrets there."""
    try:
        from hydra.core.hydra_config import HydraConfig

        folder = Path(HydraConfig.get().runtime.output_dir) / HydraConfig.get().output_subdir
    except Exception:  # not started by Hydra (tests, notebooks): nothing was written
        return
    if folder.is_dir():
        scrub_files(folder)

"""User-facing errors: a mistake in a command or a dataset, reported in one line.

``train.py`` prints these without a traceback (unless ``HYDRA_FULL_ERROR=1``) and exits with
status 2, so every message must carry what was wrong, what is valid, and how to fix it.
"""


class UserError(Exception):
    """Base for errors caused by the user's input rather than by a bug in seqvision."""

    exit_code = 2


class ConfigError(UserError):
    """A config value that cannot work (wrong type, out of range, incompatible choices)."""


class DataError(UserError):
    """A dataset that is missing, truncated or corrupt; the message names the path."""


class TrainingError(UserError):
    """Training stopped on a fault the user can act on (e.g. a non-finite loss). Reported in one
    line like a bad command, but with exit status 3 so scripts can tell the two apart."""

    exit_code = 3


class InvalidArgument(UserError, ValueError):
    """An argument that a building block (a net, a cell) cannot work with, e.g. a patch size that
    does not divide the image. A ``ValueError`` to code that uses the nets on their own; a user
    error (one line, exit status 2) to ``train.py``. Raised only where an argument is checked,
    so any other exception from building a net is a bug and keeps its traceback."""

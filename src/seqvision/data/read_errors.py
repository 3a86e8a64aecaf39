"""One way to report a file that cannot be decoded: a DataError that names the file.

Decoders (torchvision.io, PIL, PyAV, pickle, torch.load) raise their own exception types,
often without the path (PyAV's ``InvalidDataError``, pickle's "truncated"). Every reader in
``seqvision.data`` wraps its per-file work in ``reading(path)`` so that the user learns which
file is broken and that nothing is skipped: a bad file stops the run before training starts.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from seqvision.errors import DataError


@contextmanager
def reading(path: str | Path, what: str = "file", fix: str = "delete or replace it"):
    try:
        yield
    except DataError:
        raise
    except Exception as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise DataError(f"cannot decode {what} {path} ({type(err).__name__}{': ' + detail if detail else ''}); "
                        f"fix: {fix}") from err

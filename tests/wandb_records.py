"""Reads the records of an offline W&B run file (``run-<id>.wandb``), to check what was logged.

wandb 0.31 no longer ships a Python reader. The file is a LevelDB-style log: a 7-byte header
(":W&B", magic 0xBEE1, version), then 32 KiB blocks of chunks, each ``crc32 (4) | length (2,
little-endian) | type (1: full, 2: first, 3: middle, 4: last) | payload``; payloads are
``wandb_internal_pb2.Record`` messages.
"""

from __future__ import annotations

import json
from pathlib import Path

BLOCK, HEADER = 32768, 7


def records(path: Path):
    from wandb.proto import wandb_internal_pb2 as pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, buf = HEADER, b""
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:  # trailer padding at the end of a block
            pos += BLOCK - pos % BLOCK
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        if pos + 7 + length > len(data):  # the writer is still appending this chunk
            return
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4) and buf:
            record = pb2.Record()
            record.ParseFromString(buf)
            yield record
            buf = b""


def summarize(path: Path) -> dict:
    """The run's group/job_type/tags, its config (key -> value) and final summary values."""
    out = {"config": {}, "summary": {}, "history_keys": set(), "run": None, "exit": None, "kinds": []}
    for r in records(path):
        kind = r.WhichOneof("record_type")
        out["kinds"].append(kind)
        if kind == "run":
            out["run"] = r.run
            for item in r.run.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in r.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "summary":
            for item in r.summary.update:
                out["summary"][item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "history":
            out["history_keys"].update(i.key or "/".join(i.nested_key) for i in r.history.item)
        elif kind == "exit":
            out["exit"] = r.exit.exit_code
    return out


def summarize_when_complete(path: Path, timeout: float = 60.0) -> dict:
    """``summarize`` once the run's exit record is on disk: W&B's writer (the wandb-core
    process) may still be flushing the file for a moment after ``run.finish()`` returns."""
    import time

    from google.protobuf.message import DecodeError

    deadline = time.monotonic() + timeout
    while True:
        try:
            out = summarize(path)
        except DecodeError:  # read while a record was half written: read again
            if time.monotonic() > deadline:
                raise
            out = {"exit": None}
        if out["exit"] is not None or time.monotonic() > deadline:
            return out
        time.sleep(0.5)

"""Shared helpers of the benchmark scripts: load report, interleaved timing, synthetic data files.

Every script measures its baseline in the same run, interleaved with the candidate
(A B A B ...), and reports medians and their ratio, because this machine is shared and
its load changes from second to second. The load is printed next to every figure.
"""

from __future__ import annotations

import os
import pickle
import platform
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"   # real MNIST: <DEFAULT_DATA>/MNIST/raw
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))


def load() -> str:
    """The 1-minute load average and the core count, e.g. ``load 3.10 on 2 cores``."""
    try:
        one = os.getloadavg()[0]
    except OSError:
        return "load unknown"
    return f"load {one:.2f} on {os.cpu_count()} cores"


def cpu_model() -> str:
    """The CPU's model name and flags that matter for speed (``AMD EPYC, avx2, no avx512/bf16``)."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "?")
    flags = set(next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), []))
    simd = "avx512" if any(f.startswith("avx512") for f in flags) else "avx2" if "avx2" in flags else "no avx2"
    bf16 = "bf16" if {"avx512_bf16", "amx_bf16"} & flags else "no bf16"
    return f"{name}, {simd}, {bf16}"


def header(title: str) -> None:
    import torch

    print(f"# {title}")
    print(f"# command: {' '.join(sys.argv)}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {cpu_model()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} threads, {load()}")
    if "--smoke" in sys.argv:
        print("# --smoke: tiny data and sizes, to check that the script runs; its figures mean nothing")


def interleave(cases: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Runs each case once per round, in turn, ``repeats`` rounds; each call returns one figure."""
    results: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(repeats):
        for name, fn in cases.items():
            results[name].append(fn())
        print(f"  round {r + 1}/{repeats} done, {load()}", file=sys.stderr, flush=True)
    return results


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    return f"[{min(values):,.0f} .. {max(values):,.0f}]"


# -- data files in the real formats, for the torchvision baselines --------------------------
def write_idx_mnist(folder: Path, n_train: int = 60000, n_test: int = 10000, seed: int = 0) -> Path:
    """Random 28x28 digits in MNIST's IDX format under ``folder/MNIST/raw`` (same bytes layout)."""
    import numpy as np

    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
    return folder


def write_cifar10(folder: Path, per_batch: int = 10000, seed: int = 0) -> Path:
    """Random CIFAR-10-shaped data in the real pickle format under ``folder/cifar-10-batches-py``."""
    import numpy as np

    base = folder / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"batch_label": name, "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 "labels": rng.integers(0, 10, per_batch).tolist(), "filenames": [f"{i}.png" for i in range(per_batch)]}
        with open(base / name, "wb") as f:
            pickle.dump(entry, f)
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
            "num_cases_per_batch": per_batch, "num_vis": 3072}
    with open(base / "batches.meta", "wb") as f:
        pickle.dump(meta, f)
    return folder


def unchecked_cifar10():
    """torchvision's CIFAR10 without its md5 checks (the synthetic files cannot match them);
    reading and ``__getitem__`` (PIL image, then transforms) are torchvision's own."""
    from torchvision.datasets import CIFAR10

    class UncheckedCIFAR10(CIFAR10):
        def _check_integrity(self) -> bool:
            return True

        def _load_meta(self) -> None:
            with open(os.path.join(self.root, self.base_folder, self.meta["filename"]), "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    return UncheckedCIFAR10


def synthetic_cifar10_module():
    """``data._target_=_common.SyntheticCIFAR10DataModule``: the project's CIFAR-10 module
    reading random files in the real format (``write_cifar10``), for throughput only."""
    from seqvision.data.torchvision_sets import CIFAR10DataModule

    class SyntheticCIFAR10DataModule(CIFAR10DataModule):
        def tv_class(self):
            return unchecked_cifar10()

    return SyntheticCIFAR10DataModule


def __getattr__(name: str):
    if name == "SyntheticCIFAR10DataModule":  # built lazily: importing _common must not import torch
        return synthetic_cifar10_module()
    raise AttributeError(name)

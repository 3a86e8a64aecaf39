"""``experiment=cifar10_cpu`` against the same recipe as a plain PyTorch loop, in one run.

    python benchmarks/cifar10_cpu.py --root ../shared/data            # ours, then the plain loop
    python benchmarks/cifar10_cpu.py --root ../shared/data --only ours
    python benchmarks/cifar10_cpu.py --smoke      # seconds, tiny random files: checks the script, its figures mean nothing

Each side is a fresh process timed from its launch to its exit (start-up, data loading, training,
every validation and the test with test-time augmentation included): ``train.py`` as a user runs
it, and ``benchmarks/_plain_cifar10.py`` (no Lightning, no Hydra). Prints both test accuracies,
both wall times, and the speed ratio plain / ours (target >= 0.95), with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_DATA, REPO, header, load, write_cifar10


def _timed(cmd: list[str]) -> tuple[float, str]:
    """Wall seconds of ``cmd`` from its launch to its exit, and its stdout."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return time.perf_counter() - t0, proc.stdout


def ours(root: str, tmp: str, extra: list[str]) -> dict:
    run_dir = Path(tmp) / "ours"
    cmd = [sys.executable, "train.py", "experiment=cifar10_cpu", f"data.root={root}", "data.verify=false",
           f"hydra.run.dir={run_dir}", "callbacks.rich_progress_bar=null", *extra]
    wall, _ = _timed(cmd)
    res = json.loads((run_dir / "results.json").read_text())
    return {"wall_s": wall, "test_acc": res["metrics"]["test/acc"], "epochs": res["epochs"], "cmd": " ".join(cmd)}


def plain(root: str, epochs: int) -> dict:
    cmd = [sys.executable, "benchmarks/_plain_cifar10.py", "--root", root, "--epochs", str(epochs)]
    wall, out = _timed(cmd)
    res = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT "))[len("RESULT "):])
    return {"wall_s": wall, "test_acc": res["test_acc"], "epochs": epochs, "cmd": " ".join(cmd)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=str(DEFAULT_DATA), help="folder holding cifar-10-batches-py")
    p.add_argument("--epochs", type=int, default=20, help="the experiment's trainer.max_epochs")
    p.add_argument("--only", choices=["ours", "plain"], default=None)
    p.add_argument("--smoke", action="store_true", help="one epoch on tiny random files: checks the script runs")
    args, extra = p.parse_known_args()
    header("CIFAR-10 CPU recipe: train.py experiment=cifar10_cpu vs the same recipe as a plain loop, same run")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            args.root, args.epochs = str(write_cifar10(Path(tmp) / "data", per_batch=128)), 1
            extra = [*extra, "trainer.max_epochs=1"]
        if args.only in (None, "ours"):
            out["ours"] = ours(args.root, tmp, extra)
            print(f"ours   {out['ours']['wall_s']:7.1f} s wall  test acc {out['ours']['test_acc']:.4f}  "
                  f"({out['ours']['epochs']} epochs; {load()})\n       {out['ours']['cmd']}", flush=True)
        if args.only in (None, "plain"):
            out["plain"] = plain(args.root, args.epochs)
            print(f"plain  {out['plain']['wall_s']:7.1f} s wall  test acc {out['plain']['test_acc']:.4f}  "
                  f"({args.epochs} epochs; {load()})\n       {out['plain']['cmd']}", flush=True)
    if len(out) == 2:
        ratio = out["plain"]["wall_s"] / out["ours"]["wall_s"]
        print(f"speed ours / plain loop: {ratio:.3f} (target >= 0.95: {'MET' if ratio >= 0.95 else 'NOT MET'}); "
              f"ours within 15 minutes: {'MET' if out['ours']['wall_s'] <= 900 else 'NOT MET'}; "
              f">= 87% test accuracy: {'MET' if out['ours']['test_acc'] >= 0.87 else 'NOT MET'}  ({load()})")


if __name__ == "__main__":
    main()

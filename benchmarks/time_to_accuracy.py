"""Time to accuracy on real data: wall seconds from the command to its final test accuracy.

    python benchmarks/time_to_accuracy.py                  # the MNIST cases, then the usual way
    python benchmarks/time_to_accuracy.py --case mnist_cnn --no-baseline
    python benchmarks/time_to_accuracy.py --quick          # mnist_cnn and 1 baseline epoch
    python benchmarks/time_to_accuracy.py --suite cifar10  # every family's plain CIFAR-10 command
    python benchmarks/time_to_accuracy.py --smoke          # seconds, tiny random files: checks the script runs

Each case is the real command, started as a subprocess; its clock runs from the launch to the
exit (Python start-up, imports, data loading, training, validation, test included). The test
accuracy is read from the run's ``results.json``. Also printed: the CPU seconds the process
used (user + sys), which on a busy shared machine says more than the wall time about what a
quiet one would take. The baseline is pytorch/examples' MNIST CNN on the usual per-sample
DataLoader pipeline (``_examples_mnist.py``), timed per epoch in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_DATA, REPO, header, load

# name: (train.py overrides, accuracy target % or None (recorded as measured), wall-time target s or None).
# Every case is the plain command a user types: the pair's recipe (conf/recipe/) gives its settings.
MNIST = {
    "mnist_cnn": (["model=cnn", "data=mnist"], 99.0, 60.0),
    "mnist_row_lstm": (["model=row_lstm", "data=mnist"], 98.5, None),
    "mnist_cnn_lstm": (["model=cnn_lstm", "data=mnist"], 98.5, None),
    "mnist_convlstm": (["model=convlstm", "data=mnist"], 98.5, None),
    "mnist_attention": (["model=attention", "data=mnist"], 98.0, None),
}
_CIFAR = ["data=cifar10", "data.verify=false"]  # the development copy is re-packed: no MD5s to compare
CIFAR10 = {
    "cifar10_cnn": (["model=cnn", *_CIFAR], None, 900.0),
    "cifar10_cnn_lstm": (["model=cnn_lstm", *_CIFAR], 82.0, 900.0),
    "cifar10_attention": (["model=attention", *_CIFAR], 70.0, 900.0),
    "cifar10_row_lstm": (["model=row_lstm", *_CIFAR], None, 900.0),
    "cifar10_convlstm": (["model=convlstm", *_CIFAR], None, 900.0),
}
SUITES = {"mnist": MNIST, "cifar10": CIFAR10}
CASES = {**MNIST, **CIFAR10}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def launch(cmd: list[str], echo: bool) -> tuple[float, float, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
               SEQVISION_LAUNCH_T=repr(time.time()))
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if echo or proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}")
    return wall, cpu, proc.stdout


def run_case(name: str, root: str, tmp: Path, extra: list[str], echo: bool) -> dict:
    overrides, acc_target, time_target = CASES[name]
    run_dir = tmp / f"{name}_{time.time_ns()}"
    cmd = [sys.executable, "train.py", *overrides, f"data.root={root}", f"hydra.run.dir={run_dir}",
           *extra]
    wall, cpu, _ = launch(cmd, echo)
    results = json.loads((run_dir / "results.json").read_text())
    acc = 100 * results["metrics"]["test/acc"]
    ok = (acc_target is None or acc >= acc_target) and (time_target is None or wall <= time_target)
    return {"case": name, "wall_s": wall, "cpu_s": cpu, "test_acc": acc, "epochs": results.get("epochs"),
            "acc_target": acc_target, "time_target": time_target, "met": ok, "cmd": " ".join(cmd[1:])}


def run_baseline(root: str, epochs: int, workers: int = 2) -> list[dict]:
    wall, cpu, out = launch([sys.executable, "benchmarks/_examples_mnist.py", "--root", root,
                             "--epochs", str(epochs), "--workers", str(workers)], echo=False)
    rows = [json.loads(line[6:]) for line in out.splitlines() if line.startswith("EPOCH ")]
    for r in rows:
        r["cpu_s_total"] = cpu
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(DEFAULT_DATA), help="folder holding MNIST/raw and cifar-10-batches-py")
    p.add_argument("--suite", choices=list(SUITES), default="mnist", help="the cases to run when no --case is given")
    p.add_argument("--case", choices=list(CASES), action="append", help="default: every case of --suite")
    p.add_argument("--baseline-epochs", type=int, default=2)
    p.add_argument("--baseline-workers", type=int, default=2, help="DataLoader workers of the usual way")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--repeats", type=int, default=1, help="rounds (ours, baseline), interleaved")
    p.add_argument("--echo", action="store_true", help="print each run's output")
    p.add_argument("--quick", action="store_true", help="mnist_cnn and one baseline epoch")
    p.add_argument("--smoke", action="store_true", help="mnist_cnn and the baseline for one epoch on tiny random files")
    p.add_argument("overrides", nargs="*", help="extra overrides for every train.py case, after --")
    args = p.parse_args()
    cases = args.case or list(SUITES[args.suite])
    if args.quick or args.smoke:
        cases, args.baseline_epochs = args.case or ["mnist_cnn"], 1
    smoke_dir = tempfile.TemporaryDirectory() if args.smoke else None
    if smoke_dir is not None:
        from _common import write_idx_mnist

        args.root = str(write_idx_mnist(Path(smoke_dir.name), 256, 64))
        args.overrides = [*args.overrides, "trainer.max_epochs=1", "data.limit=64"]
        args.baseline_workers = 0
    args.no_baseline = args.no_baseline or not any(c in MNIST for c in cases)
    needs = {"MNIST/raw/train-images-idx3-ubyte": any(c in MNIST for c in cases) or not args.no_baseline,
             "cifar-10-batches-py/data_batch_1": any(c in CIFAR10 for c in cases)}
    for path in (p for p, needed in needs.items() if needed):
        if not (Path(args.root) / path).exists():
            sys.exit(f"{path} not found under {args.root} (use --root)")
    header("time to accuracy on real data, wall seconds from the command, same run")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for name in cases:
                before = load()
                try:
                    res = run_case(name, args.root, Path(tmp), args.overrides, args.echo)
                except (RuntimeError, KeyError, FileNotFoundError) as err:
                    print(f"{name:16s} failed: {err}")
                    continue
                target = (f"target >= {res['acc_target']}%" if res["acc_target"] else "target: recorded") + (
                    f" in <= {res['time_target']:.0f} s" if res["time_target"] else "")
                print(f"{name:16s} {res['wall_s']:7.1f} s wall  {res['cpu_s']:7.1f} s cpu  test acc {res['test_acc']:.2f}%  "
                      f"epochs {res['epochs']}  {target}: {'MET' if res['met'] else 'NOT MET'}  ({before} -> {load()})")
                print(f"    python {res['cmd']}")
            if not args.no_baseline:
                before = load()
                rows = run_baseline(args.root, args.baseline_epochs, args.baseline_workers)
                for row in rows:
                    print(f"{'usual (examples)':16s} {row['s']:7.1f} s wall  test acc {100 * row['test_acc']:.2f}% "
                          f"after epoch {row['epoch']}")
                hit = next((row for row in rows if row["test_acc"] >= 0.99), None)
                reached = f"99.0% after {hit['s']:.1f} s" if hit else f"below 99.0% after {len(rows)} epochs"
                print(f"usual way: {reached}, "
                      f"{rows[-1]['cpu_s_total']:.1f} s cpu in all  ({before} -> {load()})")


if __name__ == "__main__":
    main()

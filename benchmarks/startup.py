"""Start-up: seconds from ``python train.py`` to an answer, and to the first training step.

    python benchmarks/startup.py            # 5 rounds
    python benchmarks/startup.py --quick    # 2 rounds
    python benchmarks/startup.py --smoke    # one round of the train.py cases: checks the script runs

Cases, interleaved, medians (wall seconds from the launch):
- ``python -c pass`` / ``import torch`` / ``import pytorch_lightning``: the floor any
  Lightning program pays, measured in the same run as the baselines;
- ``python -c 'import hydra'``: the floor of any Hydra application;
- ``train.py --help`` and ``train.py --cfg job``: target < 1 s each; neither imports torch nor
  Lightning, and ``--help`` is answered from the config folders (``seqvision.help``);
- first step: ``train.py`` until its first training batch starts (``_steprate.StepRate``
  reads the launch time), on the bundled digits and on real MNIST when found.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _common import DEFAULT_DATA, REPO, header, interleave, load, median


LIGHTNING = "python -c 'import pytorch_lightning'"
HYDRA = "python -c 'import hydra'"


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "benchmarks"),
                                                        os.environ.get("PYTHONPATH", "")]),
                SEQVISION_LAUNCH_T=repr(time.time()))


def wall(cmd: list[str]):
    def fn() -> float:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        return time.perf_counter() - t0
    return fn


def first_step(overrides: list[str], tmp: str):
    cmd = [sys.executable, "train.py", *overrides, "++trainer.max_steps=1", "test=false", "optimized_metric=null", "trainer.num_sanity_val_steps=0",
           f"hydra.run.dir={tmp}/run_${{now:%H%M%S%f}}", "+callbacks.steprate._target_=_steprate.StepRate",
           "+callbacks.steprate.warmup=0"]

    def fn() -> float:
        proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("STEPRATE ")), None)
        if proc.returncode != 0 or line is None:
            raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
        return json.loads(line[len("STEPRATE "):])["first_step_s"]
    return fn


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(DEFAULT_DATA), help="folder holding MNIST/raw")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--smoke", action="store_true", help="one round of the train.py cases only: checks the script runs")
    args = p.parse_args()
    if args.quick:
        args.repeats = 2
    if args.smoke:
        args.repeats, args.root = 1, "/nonexistent"
    py = sys.executable
    header("start-up, wall seconds from the launch, same run")
    with tempfile.TemporaryDirectory() as tmp:
        floors = {
            "python -c pass": wall([py, "-c", "pass"]),
            HYDRA: wall([py, "-c", "import hydra"]),
            "python -c 'import torch'": wall([py, "-c", "import torch"]),
            LIGHTNING: wall([py, "-c", "import pytorch_lightning"]),
        }
        cases = {
            **({} if args.smoke else floors),
            "train.py --help": wall([py, "train.py", "--help"]),
            "train.py --cfg job": wall([py, "train.py", "--cfg", "job"]),
            "train.py -> first step (digits)": first_step(["callbacks.rich_progress_bar=null"], tmp),
        }
        if os.path.exists(os.path.join(args.root, "MNIST", "raw", "train-images-idx3-ubyte")):
            cases["train.py -> first step (MNIST)"] = first_step(["data=mnist", f"data.root={args.root}",
                                                                  "callbacks.rich_progress_bar=null"], tmp)
        res = interleave(cases, args.repeats)
    for name, v in res.items():
        print(f"{name:38s} {median(v):6.2f} s  {[round(x, 2) for x in v]}")
    for case in ("train.py --help", "train.py --cfg job"):
        t = median(res[case])
        against = "" if args.smoke else (f"; {t / median(res[HYDRA]):.1f}x importing hydra, "
                                         f"{t / median(res[LIGHTNING]):.2f}x importing Lightning")
        print(f"{case}: {t:.2f} s (target < 1 s: {'MET' if t < 1 else 'NOT MET'}){against}  ({load()})")


if __name__ == "__main__":
    main()

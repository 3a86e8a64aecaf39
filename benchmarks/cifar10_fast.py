"""Throughput of ``experiment=cifar10_fast`` (airbench-style net, batch 1024), on CIFAR-shaped data.

    python benchmarks/cifar10_fast.py            # 60 timed steps after 5 warm-up steps
    python benchmarks/cifar10_fast.py --quick    # 15 timed steps
    python benchmarks/cifar10_fast.py -- model.compile=true   # extra train.py overrides
    python benchmarks/cifar10_fast.py --smoke    # seconds: checks the script, its figures mean nothing

There is no CIFAR-10 copy here, so this measures speed, not accuracy: random 3x32x32 images
in the real pickle format, read by the project's CIFAR-10 module (md5 check off). It runs the
real ``train.py experiment=cifar10_fast`` and prints training images per second, seconds per
epoch of 49,000 images, how many epochs fit in 10 minutes, and the time to the experiment's
10 epochs (training only; start-up and evaluation excluded). With a GPU the set is resident on
it (data.on_device=auto), as in airbench.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, header, load, write_cifar10

TRAIN_IMAGES = 49000  # 50,000 minus the experiment's 2% validation


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--smoke", action="store_true", help="tiny files, batch 64, 2 timed steps: checks the script runs")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    if args.quick:
        args.steps = 15
    if args.smoke:
        args.steps, args.warmup, args.overrides = 2, 1, [*args.overrides, "data.batch_size=64", "data.eval_batch_size=64"]
    header("experiment=cifar10_fast throughput on CIFAR-shaped random data")
    with tempfile.TemporaryDirectory() as tmp:
        root = write_cifar10(Path(tmp) / "data", *((64,) if args.smoke else ()))
        cmd = [sys.executable, "train.py", "experiment=cifar10_fast", "data._target_=_common.SyntheticCIFAR10DataModule",
               f"data.root={root}", "data.download=false", f"++trainer.max_steps={args.warmup + args.steps}",
               "test=false", "optimized_metric=null", f"hydra.run.dir={tmp}/run", "+callbacks.steprate._target_=_steprate.StepRate",
               f"+callbacks.steprate.warmup={args.warmup}", *args.overrides]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "benchmarks"),
                                                            os.environ.get("PYTHONPATH", "")]),
                   SEQVISION_LAUNCH_T=repr(time.time()))
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("STEPRATE ")), None)
        if proc.returncode != 0 or line is None:
            sys.exit(proc.stdout[-3000:] + proc.stderr[-3000:])
        rate = json.loads(line[len("STEPRATE "):])
        speed_line = next((ln.split("] - ", 1)[-1] for ln in (proc.stdout + proc.stderr).splitlines() if "speed:" in ln), "")
    batch = 64 if args.smoke else 1024
    ips = rate["steps_per_s"] * batch
    epoch_s = TRAIN_IMAGES / ips
    print(f"{speed_line}")
    print(f"{rate['steps_per_s']:.3f} steps/s x {batch} = {ips:,.0f} train images/s; {epoch_s:.1f} s per epoch; "
          f"{600 / epoch_s:.1f} epochs in 10 minutes; 10 epochs (the experiment) in {10 * epoch_s:.0f} s of training; "
          f"first step {rate['first_step_s']:.1f} s after launch  ({load()})")
    print(f"    python {' '.join(cmd[1:])}")


if __name__ == "__main__":
    main()

"""Framework overhead: training steps per second of ``train.py`` against a plain PyTorch loop.

    python benchmarks/overhead.py            # default cnn and experiment=mnist_cnn_fast
    python benchmarks/overhead.py --quick
    python benchmarks/overhead.py --smoke    # seconds: checks the script, its figures mean nothing

Both sides run the same config, composed by Hydra from the same overrides, in a fresh
process each, alternating (L P L P ...):
- train.py: the real command (Lightning Trainer, ClassificationTask with its torchmetrics,
  logging every step, callbacks, CSV logger, progress bar), stopped by ``trainer.max_steps``;
- plain: the same net, optimizer, scheduler, precision and memory format, and the same
  batches (the project's data module and ``on_after_batch_transfer``), in a bare loop:
  forward, cross-entropy, zero_grad, backward, step, scheduler step.
Steps per second are timed inside each process after ``--warmup`` steps (start-up and
validation excluded), by ``_steprate.StepRate`` on the train.py side.
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

CONFIGS = {
    "cnn (default config)": ["data=mnist"],
    "experiment=mnist_cnn_fast": ["experiment=mnist_cnn_fast"],
}


def _steprate(out: str) -> dict:
    for line in out.splitlines():
        if line.startswith("STEPRATE "):
            return json.loads(line[len("STEPRATE "):])
    raise RuntimeError("no STEPRATE line in the output:\n" + out[-3000:])


def _run(cmd: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "benchmarks"),
                                                        os.environ.get("PYTHONPATH", "")]),
               SEQVISION_LAUNCH_T=repr(time.time()))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return _steprate(proc.stdout)


def lightning_case(overrides: list[str], steps: int, warmup: int, tmp: str):
    cmd = [sys.executable, "train.py", *overrides, f"++trainer.max_steps={steps}", "test=false", "optimized_metric=null",
           "trainer.num_sanity_val_steps=0", f"hydra.run.dir={tmp}/run_${{now:%H%M%S%f}}",
           "+callbacks.steprate._target_=_steprate.StepRate", f"+callbacks.steprate.warmup={warmup}"]
    return lambda: _run(cmd)["steps_per_s"]


def plain_case(overrides: list[str], steps: int, warmup: int):
    cmd = [sys.executable, "benchmarks/overhead.py", "--plain-worker", f"--steps={steps}", f"--warmup={warmup}",
           "--", *overrides]
    return lambda: _run(cmd)["steps_per_s"]


def plain_worker(overrides: list[str], steps: int, warmup: int) -> None:
    """The plain PyTorch loop over what train.py would build from ``overrides``."""
    from types import SimpleNamespace

    import torch
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from torch.nn import functional as F

    from seqvision import speed
    from seqvision.entry import register_resolvers
    from seqvision.run import build_datamodule, build_net

    register_resolvers()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    torch.manual_seed(cfg.seed)
    device = torch.device("cuda" if speed.accelerator_type(cfg.trainer) == "cuda" else "cpu")
    speed.apply_global(cfg.get("speed"), cfg.trainer)
    dm = build_datamodule(cfg)
    dm.trainer = SimpleNamespace(training=True, global_rank=0, world_size=1, current_epoch=0,
                                 strategy=SimpleNamespace(root_device=device))
    dm.prepare_data()
    dm.setup("fit")
    net = build_net(cfg, dm)
    if cfg.model.get("channels_last"):
        net = speed.channels_last(net)
    if cfg.model.get("compile"):
        net = torch.compile(net)
    net = net.to(device).train()
    opt = instantiate(cfg.optimizer)(params=[p for p in net.parameters() if p.requires_grad])
    sched = None
    if cfg.scheduler.get("scheduler"):
        kwargs = {cfg.scheduler.total_steps_arg: steps} if cfg.scheduler.get("total_steps_arg") else {}
        sched = instantiate(cfg.scheduler.scheduler)(optimizer=opt, **kwargs)
    bf16 = str(cfg.trainer.precision).startswith("bf16")
    smoothing = cfg.model.get("task", {}).get("label_smoothing", 0.0)
    stamps = []
    while len(stamps) < steps:
        for batch in dm.train_dataloader():
            stamps.append(time.perf_counter())
            if len(stamps) > steps:
                break
            x, y = dm.on_after_batch_transfer((batch[0].to(device), batch[1].to(device)), 0)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(net(x), y, label_smoothing=smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    stamps.append(time.perf_counter())
    timed = stamps[warmup:steps + 1]
    print("STEPRATE " + json.dumps({"steps_per_s": (len(timed) - 1) / (timed[-1] - timed[0])}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(DEFAULT_DATA), help="data.root for MNIST (random IDX files if missing)")
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--config", choices=list(CONFIGS), action="append", help="default: all")
    p.add_argument("--quick", action="store_true", help="50 steps, 2 rounds")
    p.add_argument("--smoke", action="store_true", help="3 steps, one round, one config, tiny random files")
    p.add_argument("--plain-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("overrides", nargs="*", help="extra train.py overrides for both sides, after --")
    args = p.parse_args()
    if args.plain_worker:
        return plain_worker(args.overrides, args.steps, args.warmup)
    if args.quick:
        args.steps, args.warmup, args.repeats = 50, 10, 2
    if args.smoke:
        args.steps, args.warmup, args.repeats, args.config, args.root = 3, 1, 1, ["cnn (default config)"], "/nonexistent"
    header("framework overhead: train.py steps/s vs a plain PyTorch loop, same config and batches")
    root = args.root
    with tempfile.TemporaryDirectory() as tmp:
        if not os.path.exists(os.path.join(root, "MNIST", "raw", "train-images-idx3-ubyte")):
            from _common import write_idx_mnist

            root = str(write_idx_mnist(__import__("pathlib").Path(tmp) / "data", *((256, 64) if args.smoke else ())))
            print(f"# {args.root}/MNIST/raw not found: random digits in IDX format")
        for name in args.config or list(CONFIGS):
            overrides = [*CONFIGS[name], f"data.root={root}", *args.overrides]
            print(f"\n## {name}: {' '.join(overrides)}; {args.steps} steps, first {args.warmup} not timed")
            res = interleave({"train.py": lightning_case(overrides, args.steps, args.warmup, tmp),
                              "plain": plain_case(overrides, args.steps, args.warmup)}, args.repeats)
            for case, v in res.items():
                print(f"{case:9s} {median(v):8.2f} steps/s  {[round(x, 2) for x in v]}")
            print(f"ratio train.py/plain: {median(res['train.py']) / median(res['plain']):.3f}   "
                  f"(per-round: {[round(a / b, 3) for a, b in zip(res['train.py'], res['plain'])]}; {load()})")


if __name__ == "__main__":
    main()

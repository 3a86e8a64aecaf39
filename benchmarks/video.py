"""Throughput of the video pipeline and training speed of every frame-prediction model.

Why: decoding is the cost that decides whether a video run is CPU-bound; the clip cache
exists to pay it once. Part 1 writes real clips with PyAV (UCF101-like: 320x240, 25 fps,
mpeg4 .avi), then times ``data=video_folder`` epochs: the first decodes and caches, the next
reads the cache. Part 2 times training steps (forward, backward, Adam) of each model on
Moving MNIST batches (64x64, 10 -> 10 frames), with each model yaml's settings (each family's
frame predictor, ``seqvision.nets.family``). Models are measured in interleaved rounds so that
load from other processes hits all of them alike; each figure is the median over rounds.

    python benchmarks/video.py                          # both parts
    python benchmarks/video.py --part models --batch-size 16 --rounds 3
    python benchmarks/video.py --part pipeline --clips 48 --workers 2
    python benchmarks/video.py --smoke          # seconds: checks the script, its figures mean nothing
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

MODELS = ("cnn", "convlstm", "cnn_lstm", "attention")


def write_clips(root: Path, n: int, frames: int, size: tuple[int, int]) -> None:
    from seqvision.videos import write_video

    rng = np.random.default_rng(0)
    h, w = size
    for i in range(n):
        cls = root / f"class{i % 4}"
        cls.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        clip = np.stack([np.roll(base, 3 * t, axis=1) for t in range(frames)])  # textured, moving: real work for the codec
        write_video(cls / f"v_{i:03d}.avi", clip, fps=25)


def bench_pipeline(args) -> None:
    from seqvision.data.video_folder import VideoFolderDataModule

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "clips"
        t0 = time.perf_counter()
        h, w = args.clip_size
        write_clips(root, args.clips, args.clip_frames, (h, w))
        print(f"wrote {args.clips} clips of {args.clip_frames} frames {w}x{h} in {time.perf_counter() - t0:.1f} s")
        dm = VideoFolderDataModule(root=str(root), num_frames=args.num_frames, stride=args.stride,
                                   image_size=args.image_size, batch_size=8, num_workers=args.workers,
                                   test_fraction=0.2, val_fraction=0.1)
        t0 = time.perf_counter()
        dm.setup()
        print(f"setup (scan + header probe of {sum(len(d) for d in dm.datasets.values())} clips): "
              f"{time.perf_counter() - t0:.2f} s")
        n, loader = len(dm.datasets["train"]), dm.train_dataloader()  # persistent workers, as in a run
        for epoch, what in ((1, "decode + cache"), (2, "from cache"), (3, "from cache")):
            t0 = time.perf_counter()
            for _ in loader:
                pass
            dt = time.perf_counter() - t0
            print(f"epoch {epoch} ({what}): {n} clips in {dt:.2f} s = {n / dt:.1f} clips/s "
                  f"[{args.num_frames} frames x {args.image_size}px, stride {args.stride}, {args.workers} workers]")


def model_net(name: str, t_in: int, t_out: int, size: int, overrides: list[str] = ()):
    """The frame predictor of the model's family, from its yaml's knobs (as ``train.py`` builds it)."""
    import yaml
    from hydra.utils import get_object

    from seqvision.nets.family import family_of

    knobs = yaml.safe_load((ROOT / "conf" / "model" / f"{name}.yaml").read_text())["net"]
    family = family_of(get_object(knobs.pop("_target_")))
    for item in overrides:  # "attention.patch_size=8"
        key, value = item.split("=", 1)
        model, knob = key.split(".", 1)
        if model == name:
            knobs[knob] = yaml.safe_load(value)
    return family.build("frame_predictor", {"input_shape": (t_in, 1, size, size), "output_frames": t_out}, knobs)


def bench_models(args) -> None:
    from seqvision.tasks.predict import FramePredictionTask

    torch.manual_seed(0)
    t, size = args.frames, args.frame_size
    x = (torch.rand(args.batch_size, 2 * t, 1, size, size) > 0.95).float()
    nets, opts, tasks = {}, {}, {}
    for name in args.models:
        nets[name] = model_net(name, t, t, size, args.set)
        opts[name] = torch.optim.Adam(nets[name].parameters(), 1e-3)
        tasks[name] = FramePredictionTask(nets[name], optimizer=None, loss="mse")

    def step(name):
        opts[name].zero_grad()
        loss = tasks[name]._loss(nets[name](x[:, :t]), x[:, t:])
        loss.backward()
        opts[name].step()

    times = {name: [] for name in args.models}
    for name in args.models:
        step(name)  # warm-up
    for _ in range(args.rounds):
        for name in args.models:
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step(name)
            times[name].append((time.perf_counter() - t0) / args.steps)
    print(f"training steps, batch {args.batch_size}, {t} -> {t} frames of {size}x{size}, {torch.get_num_threads()} threads:")
    print(f"{'model':<10} {'params':>9} {'s/step':>8} {'steps/s':>8} {'sequences/s':>12}")
    for name in args.models:
        s = statistics.median(times[name])
        params = sum(p.numel() for p in nets[name].parameters())
        print(f"{name:<10} {params:>9,} {s:>8.3f} {1 / s:>8.2f} {args.batch_size / s:>12.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("pipeline", "models", "all"), default="all")
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--clip-frames", type=int, default=100, help="frames per written clip (4 s at 25 fps)")
    p.add_argument("--num-frames", type=int, default=16)
    p.add_argument("--stride", type=int, default=2)
    p.add_argument("--image-size", type=int, default=112)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=2, help="timed steps per model per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--set", nargs="*", default=[], metavar="MODEL.KNOB=VALUE",
                   help="change a model's knob, e.g. attention.patch_size=8 convlstm.patch_size=8")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (1: on a shared 2-core machine, 2 threads spin-wait 10x slower)")
    p.add_argument("--frames", type=int, default=10, help="input frames, and as many predicted (Moving MNIST: 10)")
    p.add_argument("--frame-size", type=int, default=64)
    p.add_argument("--clip-size", type=int, nargs=2, default=[240, 320], metavar=("H", "W"))
    p.add_argument("--smoke", action="store_true", help="tiny clips and frames, one round: checks the script runs")
    args = p.parse_args()
    if args.smoke:
        args.clips, args.clip_frames, args.num_frames, args.image_size, args.workers = 16, 12, 4, 16, 0
        args.clip_size, args.frames, args.frame_size, args.batch_size, args.steps, args.rounds = [32, 32], 3, 32, 2, 1, 1
    torch.set_num_threads(args.threads)
    if args.part in ("pipeline", "all"):
        bench_pipeline(args)
    if args.part in ("models", "all"):
        bench_models(args)


if __name__ == "__main__":
    main()

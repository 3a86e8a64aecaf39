"""Images per second: our in-memory batched pipeline against the usual torchvision DataLoader.

    python benchmarks/data_pipeline.py            # full: MNIST (real if found) + CIFAR-shaped
    python benchmarks/data_pipeline.py --quick    # fewer batches and rounds
    python benchmarks/data_pipeline.py --smoke    # seconds, tiny random files: checks the script, its figures mean nothing

Both sides produce the same thing: a training batch of normalized float images, randomly
cropped (pad 4) and flipped, and its labels.
- usual: ``torchvision.datasets.MNIST`` / ``CIFAR10`` (PIL image per sample) with
  ``transforms.Compose([RandomCrop(size, padding=4), RandomHorizontalFlip(), ToTensor(),
  Normalize(...)])`` in a ``DataLoader(batch_size=128, shuffle=True, num_workers=2,
  persistent_workers=True)``: the Lightning template's way. Also shown without augmentation.
- ours: the project's data module (``seqvision.data``): uint8 tensors in memory, a batch is
  one fancy index (``TensorBatchLoader``), then ``on_after_batch_transfer`` converts,
  augments (``augmentation=flip_crop``) and normalizes the whole batch with tensor ops.
Data: MNIST from ``--root`` (real files when present, else random digits written in the
IDX format); CIFAR-10-shaped random images written in the real pickle format to a temp dir
(no CIFAR files here), read by torchvision's CIFAR10 with its md5 check switched off.
Timing: steady state, after warm-up; worker start-up is not counted (that favours the usual
loader, which restarts its workers every epoch unless persistent_workers=True). With a GPU,
our batches come from the GPU-resident set (``data.on_device``), the usual ones are copied in.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from _common import DEFAULT_DATA, header, interleave, load, median, spread, unchecked_cifar10, write_cifar10, write_idx_mnist


def usual_loader(kind: str, root: Path, augment: bool, batch_size: int, workers: int, pin: bool):
    import torch
    from torchvision import transforms as T
    from torchvision.datasets import MNIST

    if kind == "mnist":
        size, mean, std, ds_cls = 28, (0.1307,), (0.3081,), MNIST
    else:
        size, mean, std, ds_cls = 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), unchecked_cifar10()
    ops = [T.RandomCrop(size, padding=4), T.RandomHorizontalFlip()] if augment else []
    ds = ds_cls(str(root), train=True, download=False, transform=T.Compose([*ops, T.ToTensor(), T.Normalize(mean, std)]))
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                                       persistent_workers=workers > 0, drop_last=True, pin_memory=pin)


def _ops(kornia: bool, size: int) -> dict:
    """Crop (4-pixel zero padding) and horizontal flip: ours (an index each) or Kornia's (warps)."""
    if kornia:
        import kornia.augmentation as K

        return {"crop": K.RandomCrop((size, size), padding=4), "flip": K.RandomHorizontalFlip()}
    from seqvision.data.augment import RandomCrop, RandomFlip

    return {"crop": RandomCrop(4), "flip": RandomFlip()}


def our_module(kind: str, root: Path, augment: bool, batch_size: int, device, kornia: bool = False):
    import torch

    from seqvision.data.augment import Augmentation
    from seqvision.data.torchvision_sets import CIFAR10DataModule, MNISTDataModule

    if kind == "mnist":
        cls = MNISTDataModule
    else:
        class SyntheticCIFAR10(CIFAR10DataModule):
            def tv_class(self):
                return unchecked_cifar10()
        cls = SyntheticCIFAR10
    ops = _ops(kornia, 28 if kind == "mnist" else 32)
    dm = cls(root=str(root), batch_size=batch_size, val_fraction=0.1, download=False, on_device=True,
             augment=Augmentation(ops) if augment else None)
    # The hooks read a few trainer attributes; a stand-in lets the module run without a Trainer.
    dm.trainer = SimpleNamespace(training=True, global_rank=0, world_size=1, current_epoch=0,
                                 strategy=SimpleNamespace(root_device=torch.device(device)))
    dm.setup("fit")
    return dm


def endless(make_iter):
    while True:
        yield from make_iter()


def timed(batches, n: int, finish) -> float:
    """Images per second over ``n`` batches; ``finish`` forces the last batch to exist."""
    it = batches
    t0 = time.perf_counter()
    count = 0
    for batch in itertools.islice(it, n):
        count += len(batch[1])
        last = batch
    finish(last)
    return count / (time.perf_counter() - t0)


def bench(kind: str, root: Path, args) -> list[tuple[str, float, list[float]]]:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    sync = (lambda b: torch.cuda.synchronize()) if device == "cuda" else (lambda b: None)
    cases = {}
    for augment in (True, False):
        tag = "flip_crop" if augment else "no aug"
        loader = usual_loader(kind, root, augment, args.batch_size, args.workers, pin=device == "cuda")
        usual = endless(lambda loader=loader: iter(loader))
        if device == "cuda":
            usual = ((x.to(device, non_blocking=True), y.to(device, non_blocking=True)) for x, y in usual)
        next(usual), next(usual)  # start the workers
        dm = our_module(kind, root, augment, args.batch_size, device)
        ours = (dm.on_after_batch_transfer(b, 0) for b in endless(dm.train_dataloader))
        next(ours)
        cases[f"usual   {tag:9s}"] = lambda it=usual: timed(it, args.batches, sync)
        cases[f"ours    {tag:9s}"] = lambda it=ours: timed(it, args.batches * args.ours_factor, sync)
        if augment:  # the same module with Kornia's crop and flip in place of ours
            dm_k = our_module(kind, root, augment, args.batch_size, device, kornia=True)
            kornia_it = (dm_k.on_after_batch_transfer(b, 0) for b in endless(dm_k.train_dataloader))
            next(kornia_it)
            cases[f"kornia  {tag:9s}"] = lambda it=kornia_it: timed(it, args.batches, sync)
    results = interleave(cases, args.repeats)
    return [(name, median(v), v) for name, v in results.items()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=DEFAULT_DATA, help="folder holding MNIST/raw (real MNIST); "
                   "random IDX files are written to a temp dir when it is missing")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the usual pipeline")
    p.add_argument("--batches", type=int, default=150, help="batches per timing of the usual loader")
    p.add_argument("--ours-factor", type=int, default=10, help="ours times more batches (it is that much faster)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", choices=("mnist", "cifar"), default=None)
    p.add_argument("--quick", action="store_true", help="40 batches, 3 rounds")
    p.add_argument("--smoke", action="store_true", help="tiny random files, 2 batches, one round: checks the script runs")
    args = p.parse_args()
    if args.quick:
        args.batches, args.repeats = 40, 3
    if args.smoke:
        args.batches, args.repeats, args.ours_factor, args.batch_size, args.workers = 2, 1, 1, 16, 0
        args.root = Path("/nonexistent")  # random files, written small below
    header("data pipeline: images/s, training batches with augmentation, same run")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mnist_root, mnist_src = args.root, "real MNIST"
        if not (args.root / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
            mnist_root, mnist_src = write_idx_mnist(tmp / "mnist", *((256, 64) if args.smoke else ())), "random digits in IDX format"
        kinds = {"mnist": (mnist_root, f"MNIST 1x28x28 ({mnist_src})"),
                 "cifar": (write_cifar10(tmp / "cifar", *((64,) if args.smoke else ())) if args.only != "mnist" else None,
                           "CIFAR-10-shaped 3x32x32 (random, real pickle format)")}
        for kind, (root, title) in kinds.items():
            if args.only and kind != args.only:
                continue
            print(f"\n## {title}, batch {args.batch_size}, usual loader with {args.workers} workers")
            rows = bench(kind, root, args)
            by = {name.split()[0] + " " + name.split(None, 1)[1].strip(): m for name, m, _ in rows}
            for name, m, v in rows:
                print(f"{name}  {m:>12,.0f} img/s  {spread(v)}")
            for tag in ("flip_crop", "no aug"):
                print(f"ratio ours/usual, {tag}: {by['ours ' + tag] / by['usual ' + tag]:.1f}x")
            print(f"ratio ours/kornia (the same module, Kornia's crop and flip), flip_crop: "
                  f"{by['ours flip_crop'] / by['kornia flip_crop']:.1f}x")
            print(f"ours flip_crop / usual no-aug: {by['ours flip_crop'] / by['usual no aug']:.1f}x   ({load()})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

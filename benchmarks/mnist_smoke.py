"""Smoke training of every model config (at its defaults) on MNIST, without Lightning or Hydra.

Why: checks that the default knobs learn (the target is ~98.5% test accuracy in a few epochs on
a GPU, ~98% for attention) before a full run through the experiment driver.

    python benchmarks/mnist_smoke.py --raw /path/to/MNIST/raw --epochs 3            # GPU
    python benchmarks/mnist_smoke.py --raw ... --device cpu --max-steps 200          # quick CPU look
    python benchmarks/mnist_smoke.py --smoke                                         # seconds, random files
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def load(raw: Path, device: str):
    def images(f):
        x = np.fromfile(raw / f, dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
        return ((torch.tensor(x, dtype=torch.float32) / 255 - 0.1307) / 0.3081).to(device)

    def labels(f):
        return torch.tensor(np.fromfile(raw / f, dtype=np.uint8, offset=8)).long().to(device)

    return (images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte"),
            images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte"))


def build(name: str, **override) -> torch.nn.Module:
    """The image classifier of the model's family, from its yaml's knobs (as ``train.py`` builds it)."""
    from hydra.utils import get_object

    from seqvision.nets.family import family_of

    cfg = yaml.safe_load((ROOT / "conf" / "model" / f"{name}.yaml").read_text())["net"]
    cfg.update(override)
    family = family_of(get_object(cfg.pop("_target_")))
    return family.build("image_classifier", {"input_shape": (1, 28, 28), "num_classes": 10}, cfg)


def train(name, data, args, **override) -> None:
    xtr, ytr, xte, yte = data
    torch.manual_seed(0)
    net = build(name, **override).to(args.device)
    lr = 1e-3 if name == "attention" else 2e-3
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.05 if name == "attention" else 1e-4)
    per_epoch = math.ceil(len(xtr) / args.batch)
    total = min(args.epochs * per_epoch, args.max_steps or 10**9)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / min(300, total // 5 + 1)) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    amp = args.device == "cuda"
    t0, step, accs = time.time(), 0, []
    while step < total:
        net.train()
        perm = torch.randperm(len(xtr), device=args.device)
        for i in range(0, len(xtr), args.batch):
            if step >= total:
                break
            idx = perm[i: i + args.batch]
            with torch.autocast(args.device, dtype=torch.bfloat16, enabled=amp):
                loss = F.cross_entropy(net(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
        net.eval()
        n = args.test_size or len(xte)
        with torch.no_grad(), torch.autocast(args.device, dtype=torch.bfloat16, enabled=amp):
            correct = sum((net(xte[i: min(i + 500, n)]).argmax(1) == yte[i: min(i + 500, n)]).sum().item()
                          for i in range(0, n, 500))
        accs.append(correct / n)
    print(f"{name} {override or ''}: {step} steps, test acc after each pass {[f'{a:.4f}' for a in accs]} "
          f"({time.time() - t0:.0f} s)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raw", type=Path, help="folder with the four MNIST idx files (required unless --smoke)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: epochs decide)")
    p.add_argument("--test-size", type=int, default=0, help="evaluate on the first N test images (0: all)")
    p.add_argument("--models", nargs="+", default=["row_lstm", "cnn_lstm", "convlstm", "attention"])
    p.add_argument("--smoke", action="store_true", help="random IDX files, 2 steps per model: checks the script runs")
    args = p.parse_args()
    if args.smoke:
        import tempfile

        from _common import write_idx_mnist

        tmp = tempfile.TemporaryDirectory()
        args.raw = write_idx_mnist(Path(tmp.name), 256, 64) / "MNIST" / "raw"
        args.epochs, args.max_steps, args.batch, args.test_size = 1, 2, 32, 64
    elif args.raw is None:
        p.error("--raw is required (or --smoke)")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    data = load(args.raw, args.device)
    for name in args.models:
        train(name, data, args)


if __name__ == "__main__":
    main()

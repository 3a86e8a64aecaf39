"""The recipe of ``experiment=cifar10_cpu`` as a plain PyTorch loop: no Lightning, no Hydra.

The baseline of ``benchmarks/cifar10_cpu.py``: the same net (``AirbenchNet`` with the
experiment's knobs and its whitening stem fitted to the same images), the same data (the
development copy's 40,000 training images less the same seeded 2,000 for validation), the same
batched crop and flip, label smoothing, SGD groups (64x learning rate for BatchNorm shifts),
one-cycle schedule, lookahead every 5 steps, a validation pass every epoch and the flip-and-shift
test-time augmentation at the end. Prints one JSON line: wall seconds from the launch, training
seconds, and the test accuracy.

    python benchmarks/_plain_cifar10.py --root ../shared/data --epochs 20
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import time
from pathlib import Path

T0 = time.time()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from seqvision.data.augment import RandomCrop, RandomFlip  # noqa: E402
from seqvision.nets.airbench import AirbenchNet  # noqa: E402

MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)  # seqvision's CIFAR-10 statistics
STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def load(root: Path):
    def batch(name):
        with open(root / "cifar-10-batches-py" / name, "rb") as f:
            d = pickle.load(f, encoding="latin1")
        return torch.from_numpy(np.asarray(d["data"], np.uint8).reshape(-1, 3, 32, 32)), torch.tensor(d["labels"])

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))  # data.split_seed=0
    n_val = int(round(len(x) * 0.05))
    val, train = order[:n_val].sort().values, order[n_val:].sort().values
    return (x[train], y[train]), (x[val], y[val]), batch("test_batch")


def normalize(x_u8: torch.Tensor) -> torch.Tensor:
    return ((x_u8.float() / 255 - MEAN) / STD).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def accuracy(net, x, y, tta: bool, bs: int = 1000) -> float:
    net.eval()
    correct = 0
    for i in range(0, len(x), bs):
        xb = normalize(x[i:i + bs])
        if not tta:
            logits = net(xb)
        else:  # as task.tta=flip_shift: the mirror pair 1/2, each 1-pixel diagonal shift and its mirror 1/4
            padded = F.pad(xb, (1, 1, 1, 1), mode="reflect")
            shifted = [padded[..., :32, :32], padded[..., 2:, 2:]]
            logits = 0.5 * (net(xb) + net(xb.flip(-1))) / 2 + sum(0.125 * (net(s) + net(s.flip(-1))) for s in shifted)
        correct += int((logits.argmax(1) == y[i:i + bs]).sum())
    net.train()
    return correct / len(x)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="../shared/data")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    (xtr, ytr), (xval, yval), (xte, yte) = load(Path(args.root))
    net = AirbenchNet((3, 32, 32), 10, width=32, width_mult=2.0, max_width=128, stem_width=24, whiten=True,
                      bn_momentum=0.4, bn_weight=False, dirac=True)
    net.init_from_data(normalize(xtr[:5000]))
    net = net.to(memory_format=torch.channels_last)
    lr, wd, bs = 0.75, 0.0013304, 512
    norm = {id(p) for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters() if p.requires_grad}
    trainable = [p for p in net.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if id(p) not in norm]},
              {"params": [p for p in trainable if id(p) in norm], "lr": lr * 64, "weight_decay": wd / 64}]
    opt = torch.optim.SGD(groups, lr=lr, momentum=0.85, nesterov=True, weight_decay=wd)
    steps_per_epoch = math.ceil(len(xtr) / bs)
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[lr, lr * 64], total_steps=total, pct_start=0.23,
                                                div_factor=5.0, final_div_factor=2.857, anneal_strategy="linear",
                                                cycle_momentum=False)
    crop, flip = RandomCrop(2), RandomFlip()
    slow = [t.detach().clone() for t in net.state_dict().values() if t.is_floating_point()]

    def pull(d: float) -> None:
        with torch.no_grad():
            for s, f in zip(slow, [t for t in net.state_dict().values() if t.is_floating_point()]):
                s.lerp_(f, 1 - d)
                f.copy_(s)

    step, train_s = 0, 0.0
    for epoch in range(args.epochs):
        t = time.time()
        order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(args.seed * 1_000_003 + epoch))
        for b in range(steps_per_epoch):
            idx = order[b * bs:(b + 1) * bs]
            x = flip(crop(xtr[idx].float() / 255))
            x = ((x - MEAN) / STD).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(net(x), ytr[idx], label_smoothing=0.2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 5 == 0:
                pull(0.7737809375 * (step / total) ** 3)
        train_s += time.time() - t
        val = accuracy(net, xval, yval, tta=False)
        print(json.dumps({"epoch": epoch + 1, "val_acc": round(val, 4), "train_s": round(train_s, 1)}), flush=True)
    pull(1.0)
    test = accuracy(net, xte, yte, tta=True)
    print("RESULT " + json.dumps({"test_acc": test, "train_s": round(train_s, 1), "wall_s": round(time.time() - T0, 1),
                                  "epochs": args.epochs, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()

"""The usual way, for time-to-accuracy: pytorch/examples' mnist/main.py (its Net, Adadelta
lr=1.0, StepLR gamma=0.7, batch 64, test batch 1000), with torchvision.datasets.MNIST and
per-sample ``ToTensor() + Normalize`` in a DataLoader with 2 workers.

    python benchmarks/_examples_mnist.py --root ../shared/data --epochs 2

Prints one ``EPOCH {...}`` JSON line per epoch: seconds since launch (``SEQVISION_LAUNCH_T``)
and test accuracy, so the caller can tell when 99.0% was reached.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
from torch import nn
from torch.nn import functional as F


class Net(nn.Module):  # pytorch/examples mnist/main.py, unchanged
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def main() -> None:
    from torchvision import datasets, transforms

    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    t0 = float(os.environ.get("SEQVISION_LAUNCH_T", time.time()))
    torch.manual_seed(1)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = torch.utils.data.DataLoader(datasets.MNIST(args.root, train=True, transform=tf), batch_size=64,
                                        shuffle=True, num_workers=args.workers)
    test = torch.utils.data.DataLoader(datasets.MNIST(args.root, train=False, transform=tf), batch_size=1000,
                                       num_workers=args.workers)
    model = Net()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for x, y in train:
            opt.zero_grad()
            F.nll_loss(model(x), y).backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test:
                correct += (model(x).argmax(1) == y).sum().item()
        sched.step()
        print("EPOCH " + json.dumps({"epoch": epoch, "s": time.time() - t0, "test_acc": correct / len(test.dataset)}),
              flush=True)


if __name__ == "__main__":
    main()

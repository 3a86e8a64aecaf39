"""Forward+backward time of every cell variant relative to ``nn.LSTM``, measured in the same run.

Why: the gating variants run as a Python loop over time steps; this shows what that costs next
to the fused oneDNN/cuDNN ``nn.LSTM`` (target: within 1.5x). Rows measured in interleaved rounds
so that load from other processes hits all rows alike; each figure is the median (and the
minimum, less sensitive to other processes on a shared machine) over rounds; each line ends in
the median's ratio to nn.LSTM. The FLOPs column is the multiply-add count relative to nn.LSTM
(cifg has 3 gate blocks; fgr adds a 3H x 3H gate recurrence: a floor on its ratio).

    python benchmarks/cells.py                 # batch 128, 28 steps, input 28, hidden 128
    python benchmarks/cells.py --compile       # adds torch.compile'd step rows
    python benchmarks/cells.py --smoke         # seconds, tiny sizes: checks the script, its figures mean nothing
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from seqvision.nets.cells import CELLS, LSTM_SPECS  # noqa: E402
from seqvision.nets.recurrent import RecurrentCell, RecurrentStack  # noqa: E402


class NaiveLoop(torch.nn.Module):
    """The obvious implementation: per-step autograd over RecurrentCell.step (for reference)."""

    def __init__(self, cell: str, i: int, h: int):
        super().__init__()
        self.cell = RecurrentCell(i, h, cell, impl="autograd")

    def forward(self, x):
        state, outs = None, []
        for t in range(x.shape[1]):
            h, state = self.cell.step(x[:, t], state)
            outs.append(h)
        return torch.stack(outs, 1), state


def build(args) -> dict[str, torch.nn.Module]:
    i, h = args.input, args.hidden
    rows = {"nn.LSTM (reference)": RecurrentStack(i, h, 1, "lstm")}
    for name in CELLS:
        if name in ("gru", "rnn"):
            rows[f"{name} (nn.{name.upper()})"] = RecurrentStack(i, h, 1, name)
        elif name == "lstm":
            rows["lstm (own BPTT loop)"] = RecurrentStack(i, h, 1, name, impl="bptt")
        else:
            rows[name] = RecurrentStack(i, h, 1, name)
    rows["vanilla (naive autograd loop)"] = NaiveLoop("vanilla", i, h)
    if args.compile:
        for name in ("vanilla", "cifg", "fgr"):
            rows[f"{name} (torch.compile step)"] = RecurrentStack(i, h, 1, name, impl="compiled")
    return rows


def flop_ratio(row: str, i: int, h: int) -> float:
    """Multiply-adds per step and sample relative to nn.LSTM: G*H*(I+H) (+ 9H^2 for fgr)."""
    name = row.split()[0]
    if name == "nn.LSTM":
        name = "lstm"
    blocks = {"gru": 3, "rnn": 1}.get(name) or len(LSTM_SPECS[name].gates)
    extra = 9 * h * h if name == "fgr" else 0
    return (blocks * h * (i + h) + extra) / (4 * h * (i + h))


def fwd_bwd(model: torch.nn.Module, x: torch.Tensor) -> None:
    out, _ = model(x)
    out.sum().backward()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=28)
    p.add_argument("--input", type=int, default=28)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=15, help="timed rounds (median reported)")
    p.add_argument("--iters", type=int, default=5, help="fwd+bwd iterations per round and row")
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd step loops")
    p.add_argument("--cpu-time", action="store_true",
                   help="measure process CPU time instead of wall time: robust to other processes on a "
                        "shared machine, but only meaningful with --threads 1 (OpenMP spinning counts)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one round: checks the script runs")
    args = p.parse_args()
    if args.smoke:
        args.batch, args.steps, args.input, args.hidden, args.threads, args.rounds, args.iters = 4, 3, 4, 8, 1, 1, 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.steps, args.input)
    rows = build(args)
    for m in rows.values():  # warmup (and compilation)
        for _ in range(3):
            fwd_bwd(m, x)
    clock = time.process_time if args.cpu_time else time.perf_counter
    times: dict[str, list[float]] = {k: [] for k in rows}
    for _ in range(args.rounds):
        for k, m in rows.items():
            t0 = clock()
            for _ in range(args.iters):
                fwd_bwd(m, x)
            times[k].append((clock() - t0) / args.iters * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    ref, ref_best = med["nn.LSTM (reference)"], best["nn.LSTM (reference)"]
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, {args.steps} steps, "
          f"input {args.input}, hidden {args.hidden}; forward+backward, {args.rounds} interleaved rounds x "
          f"{args.iters} iterations, {'process CPU' if args.cpu_time else 'wall'} time; load average after the run {load}")
    width = max(map(len, rows))
    print(f"{'variant':<{width}}  {'median':>9}  {'min':>9}  {'FLOPs':>5}  vs nn.LSTM: min/min, median/median")
    for k in rows:
        print(f"{k:<{width}}  {med[k]:6.2f} ms  {best[k]:6.2f} ms  {flop_ratio(k, args.input, args.hidden):5.2f}  "
              f"{best[k] / ref_best:4.2f}x (min)  {med[k] / ref:4.2f}x")
    print("\n| variant | median ms | min ms | FLOPs vs nn.LSTM | min vs nn.LSTM | median vs nn.LSTM |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in rows:
        print(f"| {k} | {med[k]:.2f} | {best[k]:.2f} | {flop_ratio(k, args.input, args.hidden):.2f} | "
              f"{best[k] / ref_best:.2f}x | {med[k] / ref:.2f}x |")

if __name__ == "__main__":
    main()

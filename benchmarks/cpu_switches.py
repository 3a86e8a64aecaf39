"""What each speed switch buys per training step of the cnn on this CPU, in one run.

    python benchmarks/cpu_switches.py            # batch 128, 3 rounds, default cnn shape
    python benchmarks/cpu_switches.py --quick
    python benchmarks/cpu_switches.py --threads 2
    python benchmarks/cpu_switches.py --smoke        # seconds: checks the script, its figures mean nothing

One training step (forward, cross-entropy, backward, AdamW) of ``nets.cnn.CNN`` on random
1x28x28 batches, for float32 / bf16 autocast x NCHW / channels-last x two widths, rounds
interleaved. Timed in CPU seconds of this process with one thread by default, so that other
jobs on a shared machine do not inflate it (on a quiet machine wall time matches); ratios
are against float32 NCHW of the first width. bf16 is only fast where the CPU has AMX or
AVX512-BF16 (``seqvision.speed.bf16_is_fast``).
"""

from __future__ import annotations

import argparse
import time

from _common import header, load, median


def main() -> None:
    import torch
    from torch.nn import functional as F

    from seqvision.nets.cnn import CNN
    from seqvision.speed import bf16_is_fast

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--widths", type=int, nargs="+", default=[32, 16])
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one round: checks the script runs")
    args = p.parse_args()
    if args.quick:
        args.steps, args.repeats = 2, 2
    if args.smoke:
        args.batch_size, args.widths, args.layers, args.steps, args.repeats = 8, [8], 1, 1, 1
    torch.set_num_threads(args.threads)
    header(f"cpu switches: CPU ms per training step, batch {args.batch_size}, bf16 native: {bf16_is_fast('cpu')}")
    torch.manual_seed(0)
    x, y = torch.randn(args.batch_size, 1, 28, 28), torch.randint(0, 10, (args.batch_size,))
    cases = {}
    for w in args.widths:
        for nhwc in (False, True):
            for bf16 in (False, True):
                net = CNN((1, 28, 28), 10, num_layers=args.layers, width=w)
                if nhwc:
                    net = net.to(memory_format=torch.channels_last)
                opt = torch.optim.AdamW(net.parameters(), 1e-3)
                xx = x.contiguous(memory_format=torch.channels_last) if nhwc else x
                name = f"width {w:3d} {'channels-last' if nhwc else 'NCHW':13s} {'bf16' if bf16 else 'fp32'}"
                cases[name] = (net, opt, xx, bf16)
    results = {name: [] for name in cases}

    def step(net, opt, xx, bf16):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(xx), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(args.repeats):
        for name, case in cases.items():
            step(*case)
            t0 = time.process_time()
            for _ in range(args.steps):
                step(*case)
            results[name].append(1000 * (time.process_time() - t0) / args.steps)
    base = median(next(iter(results.values())))
    for name, v in results.items():
        print(f"{name}  {median(v):7.1f} ms/step  x{base / median(v):.2f}")
    print(f"({load()})")


if __name__ == "__main__":
    main()

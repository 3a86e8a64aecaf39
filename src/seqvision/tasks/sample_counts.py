"""How many samples each evaluation scored, summed over every DDP rank.

A split is evaluated exactly once only if the count equals its size; the run driver writes the
counts of the last validation and of the test into ``results.json["data"]["evaluated"]`` next to
the split sizes, so a reader can check it rather than trust it.
"""

from __future__ import annotations

from torch import nn
from torchmetrics import SumMetric


class SampleCounts(nn.Module):
    def __init__(self, stages: tuple[str, ...] = ("val", "test")):
        super().__init__()
        self.counts = nn.ModuleDict({stage: SumMetric() for stage in stages})
        self.last: dict[str, int] = {}

    def update(self, stage: str, n: int) -> None:
        self.counts[stage].update(float(n))

    def close(self, stage: str) -> None:
        """At the end of an evaluation epoch: the synced total becomes ``last[stage]``."""
        metric = self.counts[stage]
        if metric.update_called:
            self.last[stage] = int(round(float(metric.compute())))
        metric.reset()

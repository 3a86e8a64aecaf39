"""Lightning's rich model summary with the FLOPs the run's cost meter counted.

Lightning's summary counts FLOPs only by running ``example_input_array`` through the module,
which our tasks do not set (their batches pass through the data module's transfer hooks first);
without one it prints "Total FLOPs: 0" and a column of zeros. Here the FLOPs column and the
total are those of ``callbacks/cost.py`` (one sample of the real input shape), the same number
``results.json["cost"]["forward_flops_per_sample"]`` holds; a layer the counter did not reach
shows "-".
"""

from __future__ import annotations

from typing import Any

from pytorch_lightning.callbacks import RichModelSummary
from pytorch_lightning.utilities.model_summary.model_summary import get_human_readable_count

from seqvision.callbacks.cost import CostMeter


class FlopsModelSummary(RichModelSummary):
    def on_fit_start(self, trainer, pl_module) -> None:
        meter = next((c for c in trainer.callbacks if isinstance(c, CostMeter)), None)
        self._flops = None if meter is None else meter.forward_flops
        self._by_module = {} if meter is None else meter.module_flops
        self._root = type(getattr(pl_module, "net", pl_module)).__name__
        super().on_fit_start(trainer, pl_module)

    def summarize(self, summary_data: list[tuple[str, list[str]]], total_parameters: int, trainable_parameters: int,
                  model_size: float, total_training_modes: dict[str, int], total_flops: int, **kwargs: Any) -> None:
        names = dict(summary_data).get("Name", [])
        column = []
        for name in names:  # "net", "net.features", ...: the counter's paths start at the net's class
            path = self._root + name[len("net"):] if name.startswith("net") else None
            count = self._by_module.get(path) if path else None
            column.append("-" if count is None else get_human_readable_count(count))
        data = [(k, column if k == "FLOPs" else v) for k, v in summary_data]
        super().summarize(data, total_parameters, trainable_parameters, model_size, total_training_modes,
                          total_flops=self._flops or 0, **kwargs)

"""The ``budget`` node of the config (``budget.seconds|flops|samples``): what it accepts, checked
before any data is read. Kept apart from the callback that spends it (``callbacks/budget.py``)
so that validating a command imports no Lightning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqvision.constraints import PositiveFloat, PositiveInt


@dataclass
class BudgetConfig:
    """``budget`` in ``conf/train.yaml``: at most one of the three; all null trains by epochs."""

    seconds: PositiveFloat | None = None
    flops: PositiveFloat | None = None
    samples: PositiveInt | None = None

    @staticmethod
    def chosen(node: Any) -> dict[str, float]:
        return {k: v for k, v in dict(node or {}).items() if v is not None}

    @staticmethod
    def problems(node: Any) -> list[str]:
        chosen = BudgetConfig.chosen(node)
        if len(chosen) > 1:
            given = " ".join(f"budget.{k}={v}" for k, v in chosen.items())
            return [f"{given}: one budget per run (the schedule spans one length); valid: one of budget.seconds, "
                    f"budget.flops, budget.samples; e.g. budget.{next(iter(chosen))}={next(iter(chosen.values()))}"]
        return []

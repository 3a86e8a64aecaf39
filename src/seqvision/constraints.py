"""Value ranges written into constructor signatures, where config validation reads them.

``def __init__(self, num_layers: PositiveInt = 4, dropout: Probability = 0.1)``: the annotation
is the whole rule. ``seqvision.validate`` checks every configured value against it before any
data is read, renders the valid range in the error message, and a new argument needs no second
edit anywhere. The metadata are ``annotated_types`` constraints, so the annotations mean the same
to pydantic and to any other reader; at run time they are ordinary ``int``/``float``/``str``.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Gt, Interval, Predicate

PositiveInt = Annotated[int, Ge(1)]
NonNegativeInt = Annotated[int, Ge(0)]
PositiveFloat = Annotated[float, Gt(0)]
NonNegativeFloat = Annotated[float, Ge(0)]
Fraction = Annotated[float, Interval(gt=0, lt=1)]  # a share of something: neither none nor all
Probability = Annotated[float, Interval(ge=0, lt=1)]  # dropout, momentum: 1 would stop learning
Chance = Annotated[float, Interval(ge=0, le=1)]  # how often a random op applies: 1 is always


def odd(value: int) -> bool:
    """an odd integer (a kernel with a centre)"""
    return value % 2 == 1


OddPositiveInt = Annotated[int, Ge(1), Predicate(odd)]


def folder_name(value: str) -> bool:
    """a non-empty name without '/'"""
    return bool(value.strip()) and "/" not in value


FolderName = Annotated[str, Predicate(folder_name)]

"""One ``model=<name>``, several kinds of data: a family declares the net it builds for each role.

A *role* is what a task asks of a net for the data at hand (``ClassificationTask`` asks for an
``image_classifier`` on ``(C, H, W)`` images and a ``clip_classifier`` on ``(T, C, H, W)``
clips, ``FramePredictionTask`` for a ``frame_predictor``). A family maps roles to plain
``nn.Module`` classes, declared once in the family's own module::

    family = Family("cnn", image_classifier=CNN, clip_classifier=FrameAveragingCNN,
                    frame_predictor=StackedFramesPredictor)

and the model yaml names it: ``net: {_target_: seqvision.nets.cnn.family, num_layers: 4, ...}``.
Building the net, checking model x data x task before any data is read, and listing the
``model=`` options that fit some data all read this one declaration. A plain ``nn.Module``
class named as ``_target_`` is a family of one image classifier.

The members of a family take the same knobs under the same names (``num_layers``, ``cell``,
``width``, ...), so one sweep spans every kind of data. A knob that the member being built has
no use for (a classifier's ``dropout`` for a forecaster) is left out with a log line; a knob
that no member takes is a typo, and config validation refuses it before anything is built.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)


class Family:
    """``Family(name, **{role: nn.Module class}, unsupported={role: why})``."""

    def __init__(self, name: str, unsupported: Mapping[str, str] | None = None, **members: type[nn.Module]):
        self.name, self.members, self.unsupported = name, dict(members), dict(unsupported or {})

    def __repr__(self) -> str:
        return f"Family({self.name!r}, {', '.join(f'{r}={c.__name__}' for r, c in self.members.items())})"

    def member(self, role: str) -> type[nn.Module] | None:
        return self.members.get(role)

    def knobs(self) -> set[str]:
        """Every argument with a default that some member takes: what a model yaml may set.
        The arguments the data fills in (``input_shape``, ``num_classes``, ``output_frames``)
        have no default, by the nets' contract."""
        return {name for cls in self.members.values() for name, p in parameters(cls).items() if p.default is not p.empty}

    def build(self, role: str, data_arguments: Mapping[str, Any], knobs: Mapping[str, Any]) -> nn.Module:
        """The member for ``role``, built with the data's shapes and the knobs it takes."""
        cls = self.members[role]
        params = parameters(cls)
        takes_all = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values())
        unused = sorted(k for k in knobs if k not in params and not takes_all)
        if unused:
            log.info("%s does not use model.net.%s; left out", cls.__name__, ", model.net.".join(unused))
        given = {k: v for k, v in knobs.items() if k in params or takes_all}
        data = {k: v for k, v in data_arguments.items() if k in params or takes_all}
        return cls(**given, **data)


def parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The named constructor parameters of ``cls`` (no ``self``, ``*args`` or ``**kwargs``)."""
    return {n: p for n, p in inspect.signature(cls).parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def family_of(target: Any) -> Family:
    """The family a model yaml's ``net._target_`` names; a bare class is an image classifier."""
    if isinstance(target, Family):
        return target
    if inspect.isclass(target):
        return Family(target.__name__, image_classifier=target)
    raise TypeError(f"model.net._target_ must name a Family or an nn.Module class, not {target!r}")

"""One model name, three kinds of data: which net ``model=<name>`` becomes for images, clips and forecasts.

A model yaml names an architecture family by its image classifier (``net._target_``); the
*data* decides the task. ``build`` looks at the data module: ``(C, H, W)`` images with a
classify task build the yaml's class unchanged; ``(T, C, H, W)`` clips build the family's video
classifier; a predict task builds its frame predictor. The variants live in their own files
and take the same knobs (``num_layers``, ``cell``, ``width``, ``kernel_size``, ...), so
``model.net.num_layers`` and ``model.net.cell`` mean the same thing for every kind. Knobs that a
variant has no use for (a classifier's ``dropout`` for a forecaster, say) are dropped with a
log line, never silently misread.

Why a table here rather than a factory per net module: the image classifiers (another
branch's files) stay untouched, and a family that has no variant (``row_lstm``) gets one clear
error naming those that do.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any

from seqvision.errors import ConfigError

log = logging.getLogger(__name__)

KINDS = ("image", "video", "predict")

# net module of the yaml's _target_ -> (model name, {kind: variant class, or None: the yaml's class itself})
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "seqvision.nets.cnn": ("cnn", {"video": "seqvision.nets.video_cnn.FrameAveragingCNN",
                                   "predict": "seqvision.nets.stacked_frames.StackedFramesPredictor"}),
    "seqvision.nets.convlstm": ("convlstm", {"video": None,  # ConvLSTMNet reads (B, T, C, H, W) itself
                                             "predict": "seqvision.nets.convlstm_forecaster.EncoderForecaster"}),
    "seqvision.nets.cnn_rnn": ("cnn_lstm", {"video": "seqvision.nets.lrcn.LRCN",
                                            "predict": "seqvision.nets.cnn_rnn_predictor.CNNRNNPredictor"}),
    "seqvision.nets.attention": ("attention", {"video": "seqvision.nets.spacetime_attention.SpaceTimeClassifier",
                                               "predict": "seqvision.nets.spacetime_attention.SpaceTimePredictor"}),
}

# families that cannot have a variant, and why
NO_VARIANT = {
    "seqvision.nets.row_rnn": ("row_lstm", "it reads one image row per time step, so its time axis is the image "
                                          "height; a clip already has a time axis, and the recurrent models for "
                                          "clips are cnn_lstm (any cell) and convlstm (any cell)"),
}


def kind_of(datamodule) -> str:
    """``predict`` for a predict task, ``video`` for 4-D inputs ``(T, C, H, W)``, else ``image``."""
    if getattr(datamodule, "task", "classify") == "predict":
        return "predict"
    return "video" if len(tuple(datamodule.input_shape)) == 4 else "image"


def _supporting(kind: str) -> str:
    return ", ".join(name for name, table in VARIANTS.values() if kind in table)


def resolve(target: str, kind: str) -> str:
    """The class to build for a yaml ``_target_`` on data of ``kind``; ConfigError when there is none."""
    if kind == "image":
        return target
    module = target.rsplit(".", 1)[0]
    what = {"video": "video classification", "predict": "frame prediction"}[kind]
    if module in NO_VARIANT:
        name, why = NO_VARIANT[module]
        raise ConfigError(f"model={name} has no meaning for {what}: {why}. Valid models for this data: "
                          f"{_supporting(kind)}; e.g. model=convlstm")
    if module not in VARIANTS or kind not in VARIANTS[module][1]:
        raise ConfigError(f"model with net {target} has no {what} variant; valid models for this data: "
                          f"{_supporting(kind)}; e.g. model=convlstm")
    return VARIANTS[module][1][kind] or target


def _import(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def build(net_cfg: Any, datamodule):
    """Builds the net for ``datamodule`` from the model yaml's ``net`` node."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    kind = kind_of(datamodule)
    shapes = {"input_shape": tuple(datamodule.input_shape), "num_classes": int(datamodule.num_classes)}
    if kind == "image":
        return instantiate(net_cfg, **shapes)
    target = resolve(str(net_cfg["_target_"]), kind)
    kwargs = {k: v for k, v in OmegaConf.to_container(net_cfg, resolve=True).items() if not k.startswith("_")}
    if kind == "predict":
        shapes["output_frames"] = int(datamodule.output_frames)
    cls = _import(target)
    params = inspect.signature(cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        dropped = sorted(k for k in kwargs if k not in params)
        if dropped:
            log.info("%s does not use model.net.%s; ignored", cls.__name__, ", model.net.".join(dropped))
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return cls(**kwargs, **shapes)

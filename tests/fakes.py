"""Stand-ins with the shape of real modules, for tests that only need their declarations."""

from seqvision.data.digits import DigitsDataModule


class ClipDigitsDataModule(DigitsDataModule):
    """Digits presented as 4-frame clips ``(T, C, H, W)``: what a video data module publishes.
    Only the shape matters here; compat checks run before any sample is read."""

    input_kind, input_shape = "clip", (4, 1, 28, 28)


class BuggyNet:
    """A net whose constructor fails the way a bug does (a plain ValueError, not InvalidArgument)."""

    def __init__(self, input_shape, num_classes, **knobs):
        raise ValueError("an internal inconsistency, not the user's input")

"""Adding a net family or a task touches only its own module and YAML: the run driver, config
validation and the list of valid models all read the family's declaration."""

from __future__ import annotations

import json
import textwrap

import pytest
from conftest import CONF, FAST

FAMILY = '''
from torch import nn

from seqvision.constraints import PositiveInt
from seqvision.nets.family import Family


class TinyImageNet(nn.Module):
    def __init__(self, input_shape, num_classes, width: PositiveInt = 4):
        super().__init__()
        c, h, w = input_shape
        self.net = nn.Sequential(nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                                 nn.Flatten(), nn.Linear(16 * width, num_classes))

    def forward(self, x):
        return self.net(x)


class TinyClipNet(nn.Module):
    """The image net on every frame, averaged over time."""

    def __init__(self, input_shape, num_classes, width: PositiveInt = 4):
        super().__init__()
        self.frame = TinyImageNet(input_shape[1:], num_classes, width)

    def forward(self, x):
        return self.frame(x.flatten(0, 1)).unflatten(0, x.shape[:2]).mean(1)


family = Family("tiny", image_classifier=TinyImageNet, clip_classifier=TinyClipNet)
'''


@pytest.fixture
def tiny_family(tmp_path, monkeypatch):
    """A family in a module of the test's own folder, and its model YAML in a config folder that
    Hydra searches beside conf/: nothing under src/ or conf/ is edited."""
    (tmp_path / "tiny_family.py").write_text(FAMILY)
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "tiny.yaml").write_text(textwrap.dedent("""
        net:
          _target_: tiny_family.family
          width: 6
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _compose(overrides, out, search):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from seqvision.entry import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=[*FAST, f"hydra.searchpath=[file://{search}]", f"paths.output_dir={out}",
                                           *overrides])


def _static_clips(root):
    """Two classes of clips in PyAV files: a bright square standing on the left or on the right."""
    import numpy as np

    from seqvision.videos import write_video

    for k, cls in enumerate(("left", "right")):
        (root / cls).mkdir(parents=True)
        for i in range(12):
            frames = np.full((4, 16, 16, 3), 10 + 3 * i, np.uint8)
            frames[:, 4:12, 1 + 8 * k: 7 + 8 * k] = 250
            write_video(root / cls / f"{cls}{i:02d}.avi", frames, fps=10)
    return root


@pytest.mark.parametrize("kind", ["images", "clips"])
def test_a_family_from_its_own_module_learns_on_images_and_clips(kind, tiny_family, tmp_path):
    """The family trains through the whole run driver and learns: well above chance (10 classes of
    separable MNIST-format images; 2 classes of clips) on data it never trained on."""
    from fixtures import write_mnist

    from seqvision.run import train

    if kind == "images":
        write_mnist(tmp_path / "data")
        data = ["data=mnist", f"data.root={tmp_path / 'data'}", "data.download=false", "data.batch_size=32",
                "trainer.max_epochs=3"]
        chance = 0.1
    else:
        data = ["data=video_folder", f"data.root={_static_clips(tmp_path / 'clips')}", "data.num_frames=4",
                "data.stride=1", "data.image_size=16", "data.num_workers=0", "data.batch_size=4",
                f"data.cache_dir={tmp_path / 'cache'}", "data.test_fraction=0.25", "trainer.max_epochs=6"]
        chance = 0.5
    out = tmp_path / "run"
    train(_compose(["model=tiny", "model.net.width=8", *data], out, tiny_family / "conf"))
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "completed"
    assert results["metrics"]["test/acc"] >= chance + 0.3, results["metrics"]


def test_a_family_without_a_member_for_the_data_is_refused_with_the_models_that_fit(tiny_family, tmp_path):
    from seqvision.errors import ConfigError
    from seqvision.run import train

    cfg = _compose(["model=tiny", "data=moving_mnist", "data.source=digits"], tmp_path / "run", tiny_family / "conf")
    with pytest.raises(ConfigError, match=r"model=tiny has no meaning for frame prediction.*Valid models for "
                                          r".*: attention, cnn, cnn_lstm, convlstm; e.g. model=attention"):
        train(cfg)


def test_a_typo_inside_a_model_yaml_is_refused_before_any_data_is_read(tiny_family, tmp_path):
    from seqvision.errors import ConfigError
    from seqvision.run import train

    (tiny_family / "conf" / "model" / "tiny.yaml").write_text("net:\n  _target_: tiny_family.family\n  widht: 6\n")
    cfg = _compose(["model=tiny", "data=mnist", f"data.root={tmp_path / 'no-data-here'}", "data.download=false"],
                   tmp_path / "run", tiny_family / "conf")
    with pytest.raises(ConfigError, match="model.net.widht is not an option of model=tiny; valid: width"):
        train(cfg)  # data=mnist has no files there: a data error would mean data was read first

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
        self.net = nn.Sequential(nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(width, num_classes))

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


@pytest.mark.parametrize("data", [["data=digits", "data.limit=64"],
                                  ["data=moving_mnist_labels", "data.source=digits", "data.train_size=16",
                                   "data.val_size=8", "data.test_size=8", "data.batch_size=8", "data.input_frames=3"]],
                         ids=["images", "clips"])
def test_a_family_from_its_own_module_trains_on_images_and_clips(tiny_family, tmp_path, data):
    from seqvision.run import train

    out = tmp_path / "run"
    train(_compose(["model=tiny", *data], out, tiny_family / "conf"))
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "completed" and 0 <= results["metrics"]["test/acc"] <= 1


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

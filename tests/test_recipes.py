"""``model=X data=Y`` takes the measured settings of that pair (``conf/recipe/X_Y.yaml``): the
plain command is the published experiment, any value stays overridable, ``recipe=none`` drops
them, and setups of their own (paper and GPU experiments, the sweeps) take none."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import ROOT, run_train_here
from omegaconf import OmegaConf

THIN = sorted(p.stem for p in (ROOT / "experiments").glob("*.yaml") if "conf/recipe/" in p.read_text())


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from seqvision.entry import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=[*overrides, "paths.output_dir=/tmp/seqvision-compose"], return_hydra_config=True)


def _settings(cfg) -> dict:
    out = OmegaConf.to_container(cfg)
    for key in ("hydra", "task_name", "tags"):
        out.pop(key)
    return out


def test_every_recipe_is_measured_by_an_experiment():
    recipes = {p.stem for p in (ROOT / "conf" / "recipe").glob("*.yaml")} - {"none"}
    named = {re.search(r"conf/recipe/(\w+)\.yaml", (ROOT / "experiments" / f"{e}.yaml").read_text()).group(1) for e in THIN}
    assert recipes == named and len(recipes) >= 10


@pytest.mark.parametrize("name", THIN)
def test_the_plain_command_of_a_pair_is_its_published_experiment(name):
    text = (ROOT / "experiments" / f"{name}.yaml").read_text()
    model, data = re.search(r"model=(\w+) on data=(\w+)", text).groups()
    experiment, plain = _compose([f"experiment={name}"]), _compose([f"model={model}", f"data={data}"])
    assert plain.hydra.runtime.choices.recipe == f"{model}_{data}"
    assert _settings(plain) == _settings(experiment)
    recipe = yaml.safe_load((ROOT / "conf" / "recipe" / f"{model}_{data}.yaml").read_text())
    assert recipe and "arXiv:" in (ROOT / "conf" / "recipe" / f"{model}_{data}.yaml").read_text()


def test_a_recipe_value_stays_overridable_and_recipe_none_drops_the_recipe():
    tuned = _compose(["model=cnn_lstm", "data=cifar10"])
    assert tuned.model.net.stem_layers == 4 and tuned.optimizer._target_ == "torch.optim.SGD"
    assert _compose(["model=cnn_lstm", "data=cifar10", "model.net.stem_layers=3"]).model.net.stem_layers == 3
    plain = _compose(["model=cnn_lstm", "data=cifar10", "recipe=none"])
    assert plain.model.net.stem_layers == 2 and plain.optimizer._target_ == "torch.optim.AdamW"
    assert _compose(["model=cnn_lstm"]).hydra.runtime.choices.recipe == "cnn_lstm_digits"  # no such file: none taken
    assert _compose(["model=cnn_lstm"]).model.net.stem_layers == 2


@pytest.mark.parametrize("kind,name", [("experiment", p.stem) for p in sorted((ROOT / "experiments").glob("*.yaml"))
                                       if "conf/recipe/" not in p.read_text()] +
                         [("sweep", p.stem) for p in sorted((ROOT / "sweeps").glob("*.yaml"))
                          if "conf/recipe/" not in p.read_text()])
def test_setups_of_their_own_take_no_recipe(kind, name):
    extra = ["data.root=/data"] if name == "lrcn_video" else []
    choice = _compose([f"{kind}={name}", *extra]).hydra.runtime.choices.recipe
    assert choice == "none" or not (ROOT / "conf" / "recipe" / f"{choice}.yaml").exists(), choice


def test_the_equal_compute_sweep_trains_each_family_with_its_recipe_under_one_budget():
    for model, recipe in (("cnn", "cnn_cifar10"), ("attention", "attention_cifar10"), ("convlstm", "convlstm_cifar10")):
        cfg = _compose(["sweep=equal_compute", f"model={model}"])
        assert cfg.hydra.runtime.choices.recipe == recipe
        assert cfg.budget.seconds == 120 and cfg.task.tta == "none"  # the sweep's, over the recipe's flips
    assert _compose(["sweep=equal_compute", "model=attention"]).optimizer.lr == 0.002  # the recipe's value


def test_the_plain_command_says_which_recipe_it_took(tmp_path, monkeypatch):
    from fixtures import write_cifar10

    write_cifar10(tmp_path / "data")
    run_dir = tmp_path / "run"
    proc = run_train_here(["model=cnn_lstm", "data=cifar10", f"data.root={tmp_path / 'data'}", "data.verify=false",
                           "++trainer.max_steps=1", "++trainer.limit_val_batches=1", "++trainer.limit_test_batches=1",
                           "callbacks.rich_progress_bar=null", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (run_dir / "train.log").read_text()
    assert "recipe cnn_lstm_cifar10: the measured settings of this model on this data" in log

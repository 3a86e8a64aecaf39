"""Every option of every config group, every experiment and every sweep: it composes, validates
and trains at least one step on tiny data in the real on-disk formats, or is refused in one
line for the reason listed here. The options are found in ``conf/``, ``experiments/`` and
``sweeps/``, so a new one is covered without editing this file.

Each case is one real run (``seqvision.run.train``) with the training shortened to one step
and one batch of validation and test. Data options read files this module writes once: MNIST
and Fashion-MNIST IDX files, CIFAR pickles, a PNG folder, PyAV clips; Moving MNIST draws from
the bundled digits.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, moving_square_clip
from omegaconf import OmegaConf

CONF = ROOT / "conf"
# Groups whose options are configs of Hydra itself, run by the sweep and cluster tests.
HYDRA_GROUPS = ("hydra/launcher", "hydra/sweeper")
# Folders of conf/ that are not groups a command picks an option of.
NOT_GROUPS = {"experiment", "sweep", "hydra"}

SHORT = ["++trainer.max_steps=1", "++trainer.limit_val_batches=1", "++trainer.limit_test_batches=1",
         "trainer.num_sanity_val_steps=0", "++callbacks.rich_progress_bar=null", "++callbacks.model_summary=null",
         "++trainer.enable_model_summary=false", "++trainer.enable_progress_bar=false", "data.batch_size=8",
         "data.eval_batch_size=8", "data.limit=16"]

# Options that a CPU machine cannot run in this process, and why; they still compose and validate.
NOT_RUN_HERE = {
    ("trainer", "ddp_cpu"): "starts its own processes: tests/test_ddp_multirun.py and test_exact_evaluation.py run it",
}
# Options that are refused on a machine without a GPU, with the message that says so.
REFUSED_WITHOUT_GPU = {("trainer", "gpu"), ("trainer", "ddp")}


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _groups() -> list[str]:
    return sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in NOT_GROUPS)


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    """Tiny data sets in their real formats, written once for the module."""
    from fixtures import write_cifar10, write_cifar100, write_mnist
    from PIL import Image

    from seqvision.videos import write_video

    base = tmp_path_factory.mktemp("data")
    write_mnist(base, n_train=96, n_test=32)
    write_mnist(base, n_train=96, n_test=32, folder="FashionMNIST")
    write_cifar10(base, n_per_batch=16, n_test=32)
    write_cifar100(base, n_train=64, n_test=32)
    images = base / "images"
    for split in ("train", "test"):
        for k, cls in enumerate(("ant", "bee")):
            (images / split / cls).mkdir(parents=True)
            for i in range(8):
                Image.new("RGB", (12, 12), (40 + 200 * k, 60, 90 + i)).save(images / split / cls / f"{i}.png")
    clips = base / "clips"
    for cls, direction in (("left", -1), ("right", 1)):
        (clips / cls).mkdir(parents=True)
        for k in range(4):
            write_video(clips / cls / f"v_{cls}_g{k:02d}_c01.avi", moving_square_clip(8, 16, direction), fps=10)
    return {"data": base, "images": images, "clips": clips, "cache": base / "cache"}


def _data_args(data: str, roots: dict[str, Path]) -> list[str]:
    """What a data option needs to read the tiny files (and to stay tiny)."""
    if data == "image_folder":
        return [f"data.root={roots['images']}", "data.image_size=12"]
    if data == "video_folder":
        return [f"data.root={roots['clips']}", "data.image_size=16", "data.num_frames=4", "data.stride=1",
                "data.num_workers=0", f"data.cache_dir={roots['cache']}", "data.val_fraction=0.25"]
    if data.startswith("moving_mnist"):
        return ["data.source=digits", "data.image_size=32", "data.input_frames=3", "data.val_size=8",
                "data.test_size=8"] + (["data.output_frames=3"] if data == "moving_mnist" else [])
    if data == "digits":
        return []  # bundled with scikit-learn
    args = [f"data.root={roots['data']}"]
    if data in ("mnist", "fashion_mnist", "cifar10", "cifar100"):
        args.append("data.download=false")
    if data.startswith("cifar"):
        args.append("data.verify=false")  # the fixture's pickles cannot match the canonical MD5s
    return args


def _compose(overrides: list[str], tmp_path: Path, hydra: bool = False):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from seqvision.entry import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.output_dir={tmp_path / 'run'}"], return_hydra_config=hydra)
    GlobalHydra.instance().clear()
    return cfg


def _data_of(cfg) -> str:
    """The data option a composition ends up with (an experiment or a sweep may choose it)."""
    for option in _options("data"):
        if OmegaConf.load(CONF / "data" / f"{option}.yaml").get("_target_") == cfg.data._target_:
            return option
    raise AssertionError(f"no data option has the target {cfg.data._target_}")


def _config(overrides: list[str], roots: dict[str, Path], tmp_path: Path):
    """The composed run, pointed at the tiny files of its data option (composed again with them
    only where the option reads files: the bundled digits need none)."""
    cfg = _compose([*overrides, *SHORT], tmp_path)
    data_args = _data_args(_data_of(cfg), roots)
    return _compose([*overrides, *data_args, *SHORT], tmp_path) if data_args else cfg


def _run(overrides: list[str], roots: dict[str, Path], tmp_path: Path, monkeypatch) -> dict:
    from seqvision.run import train

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)
    train(_config(overrides, roots, tmp_path))
    return json.loads((tmp_path / "run" / "results.json").read_text())


def _assert_trained(results: dict) -> None:
    assert results["status"] == "completed", results
    assert results["global_step"] >= 1  # at least one optimizer step
    assert any(k.startswith("test/") for k in results["metrics"]), results["metrics"]


# -- every option of every group ---------------------------------------------------------------
CASES = [(g, o) for g in _groups() for o in _options(g)]
COMPANIONS = {  # what an option needs beside it to make sense
    "task": {"predict": ["data=moving_mnist"]},
    "augmentation": {o: ["data=cifar10"] for o in _options("augmentation")},  # RGB: colour jitter, RandAugment
    "recipe": {o: [f"model={o[:-len(d) - 1]}", f"data={d}"] for o in _options("recipe")  # <model>_<data>
               for d in _options("data") if o.endswith(f"_{d}") and o[:-len(d) - 1] in _options("model")},
}


@pytest.mark.parametrize("group,option", CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_every_option_trains_a_step_or_says_why_not(group, option, roots, tmp_path, monkeypatch):
    from seqvision.errors import ConfigError

    overrides = [f"{group}={option}", *COMPANIONS.get(group, {}).get(option, [])]
    if group != "trainer":
        overrides.append("trainer.accelerator=cpu")
    if (group, option) in NOT_RUN_HERE:
        from seqvision.config import validate

        validate(_config(overrides, roots, tmp_path))
        return
    if (group, option) in REFUSED_WITHOUT_GPU:
        import torch

        if not torch.cuda.is_available():
            with pytest.raises(ConfigError, match=r"^trainer: .*e\.g\. trainer=cpu"):
                _run(overrides, roots, tmp_path, monkeypatch)
            return
    _assert_trained(_run(overrides, roots, tmp_path, monkeypatch))


def test_every_group_folder_is_covered():
    """A new folder of conf/ is a new group: it is picked up above, or named here as not one."""
    folders = {p.name for p in CONF.iterdir() if p.is_dir()}
    assert folders - NOT_GROUPS == set(_groups()) and _groups(), folders
    assert len(CASES) >= 50


# -- Hydra's own groups --------------------------------------------------------------------------
HYDRA_CASES = [(g, o) for g in HYDRA_GROUPS for o in _options(g)]


@pytest.mark.parametrize("group,option", HYDRA_CASES, ids=[f"{g}={o}" for g, o in HYDRA_CASES])
def test_every_launcher_and_sweeper_composes_and_names_an_installed_plugin(group, option, tmp_path):
    """Their runs are the sweep, launcher and cluster tests' (tests/test_*sweep*, test_parallel_launcher)."""
    from hydra.utils import get_object

    node = OmegaConf.select(_compose([f"{group}={option}"], tmp_path, hydra=True), group.replace("/", "."))
    assert callable(get_object(node._target_)), node._target_


# -- every experiment and every sweep ------------------------------------------------------------
EXPERIMENTS = sorted(p.stem for p in (ROOT / "experiments").glob("*.yaml"))
SWEEPS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_trains_a_step(name, roots, tmp_path, monkeypatch):
    results = _run([f"experiment={name}", "trainer.accelerator=cpu"], roots, tmp_path, monkeypatch)
    _assert_trained(results)
    assert results["task_name"] == name


def _first_trial(name: str, tmp_path: Path) -> list[str]:
    """The overrides of a sweep's first trial: the first value of each swept key."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    params = _compose([f"sweep={name}"], tmp_path, hydra=True).hydra.sweeper.params or {}
    first = []
    for override in OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()]):
        value = override.value()
        if isinstance(value, ChoiceSweep):
            value = value.list[0]
        elif isinstance(value, (RangeSweep, IntervalSweep)):
            value = value.start
        first.append(f"{override.get_key_element()}={value}")
    return first


@pytest.mark.parametrize("name", SWEEPS)
def test_every_sweep_s_first_trial_trains_a_step(name, roots, tmp_path, monkeypatch):
    trial = _first_trial(name, tmp_path)
    assert trial, f"sweep={name} sweeps nothing"
    results = _run([f"sweep={name}", *trial, "trainer.accelerator=cpu"], roots, tmp_path, monkeypatch)
    _assert_trained(results)
    assert results["task_name"] in (name, "search")

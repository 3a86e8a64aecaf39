"""Every sweep, experiment and launcher config composes into runnable trials; the W&B sweep
YAML produces valid train.py overrides; the pieces of a DDP trial and of a SLURM requeue work."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from sweeps_support import ROOT

CONF = ROOT / "conf"
SWEEPS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (ROOT / "experiments").glob("*.yaml"))


def compose(overrides: list[str], hydra: bool = False):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from seqvision.entry import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    given = any(o.startswith("paths.output_dir=") for o in overrides)
    outside_hydra = [] if hydra or given else ["paths.output_dir=/tmp/seqvision-compose"]  # no run folder to resolve
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose("train", overrides=[*overrides, *outside_hydra], return_hydra_config=hydra)


def _missing_groups(cfg_path: Path) -> list[str]:
    """Config options a file names that conf/ does not have."""
    missing = []
    for entry in OmegaConf.load(cfg_path).get("defaults", []):
        if isinstance(entry, str) or not OmegaConf.is_dict(entry):
            continue
        for key, value in entry.items():
            group = key.split()[-1].lstrip("/")
            if group.startswith("hydra"):
                continue
            if not (CONF / group / f"{value}.yaml").is_file():
                missing.append(f"{group}={value}")
    return missing


def test_the_ablation_sweeps_exist():
    assert {"depth", "gates", "augmentation", "optimizer", "search"} <= set(SWEEPS)
    assert len(EXPERIMENTS) >= 5


@pytest.mark.parametrize("name", [s for s in SWEEPS if s != "search"])
def test_grid_sweep_composes_and_each_corner_trial_is_valid(name):
    from seqvision.config import validate

    missing = _missing_groups(ROOT / "sweeps" / f"{name}.yaml")
    assert not missing, missing
    cfg = compose([f"sweep={name}"], hydra=True)
    params = cfg.hydra.sweeper.params
    assert cfg.hydra.sweeper._target_.endswith("AblationSweeper")
    assert "seed" in params and len(str(params.seed).split(",")) >= 2, "an ablation needs seeds"
    axes = {k: str(v).split(",") for k, v in params.items()}
    for group, values in axes.items():
        if (CONF / group).is_dir():
            for v in values:
                assert (CONF / group / f"{v}.yaml").is_file(), f"{name}: {group}={v} does not exist"
    combos = list(itertools.product(*([f"{k}={v}" for v in vs] for k, vs in axes.items())))
    for combo in (combos[0], combos[-1]):
        trial = compose([f"sweep={name}", *combo])
        validate(trial)
        assert trial.task_name == name and name in trial.tags


def test_gates_covers_every_cell_on_row_lstm_and_convlstm():
    from seqvision.nets import cells

    params = compose(["sweep=gates"], hydra=True).hydra.sweeper.params
    assert set(str(params["model.net.cell"]).split(",")) == set(cells.CELLS)
    assert set(str(params.model).split(",")) == {"row_lstm", "convlstm"}
    assert str(params.seed).split(",") == ["1", "2", "3"]


def test_search_is_optuna_with_a_search_space_and_the_returned_metric():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    cfg = compose(["sweep=search"], hydra=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("SearchSweeper") and sweeper.direction == "maximize"
    assert cfg.optimized_metric == "val/acc_best" and sweeper.max_failure_rate == 1.0
    assert sweeper.storage.startswith("sqlite:///") and sweeper.storage.endswith("/optuna.db")
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in sweeper.params.items()])
    assert all(o.is_sweep_override() for o in parsed) and len(parsed) >= 4


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_validates_and_cites_its_source(name):
    from seqvision.config import validate

    path = ROOT / "experiments" / f"{name}.yaml"
    text = path.read_text()
    if recipe := re.search(r"conf/recipe/(\w+)\.yaml", text):  # its settings, and their sources, are its recipe's
        text += (CONF / "recipe" / f"{recipe.group(1)}.yaml").read_text()
    assert "arXiv:" in text or "doi" in text.lower(), f"{name} cites no source"
    assert not _missing_groups(path)
    cfg = compose([f"experiment={name}"])
    assert cfg.task_name == name
    if OmegaConf.is_missing(cfg.data, "root"):  # the user's own data (video_folder): the command names it
        cfg = compose([f"experiment={name}", "data.root=/data/UCF-101"])
    validate(cfg)


@pytest.mark.parametrize("launcher,expect", [
    ("parallel", {"ray.remote.num_gpus": 1, "ray.remote.max_calls": 1, "ray.remote.max_retries": 0}),
    ("parallel_cpu", {"ray.remote.num_gpus": 0, "ray.init.num_gpus": 0, "ray.remote.num_cpus": 1}),
])
def test_launcher_configs(launcher, expect):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    cfg = compose([f"hydra/launcher={launcher}"], hydra=True).hydra.launcher
    for key, value in expect.items():
        assert OmegaConf.select(cfg, key) == value, key


def test_a_sweep_starts_its_own_ray_instance_unless_given_a_cluster_whose_nodes_size_themselves(caplog):
    """``address: local`` keeps a sweep off a ``ray start`` cluster running on the machine; with an
    address, the local instance's sizes (which Ray refuses for a cluster) are left out, saying so."""
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    from hydra_plugins.seqvision_launchers.ray_launcher import init_arguments

    init = compose(["hydra/launcher=parallel_cpu", "hydra.launcher.ray.init.num_cpus=2"], hydra=True).hydra.launcher.ray.init
    local = init_arguments(init)
    assert (local["address"], local["num_cpus"], local["num_gpus"]) == ("local", 2, 0)
    with caplog.at_level("INFO"):
        joined = init_arguments(OmegaConf.merge(init, {"address": "10.1.2.3:6379"}))
    assert joined["address"] == "10.1.2.3:6379"
    assert not {"num_cpus", "num_gpus", "object_store_memory", "include_dashboard"} & set(joined), joined
    assert joined["runtime_env"]["env_vars"]["SEQVISION_ROOT"] == os.environ["SEQVISION_ROOT"]
    assert "num_cpus=2, num_gpus=0" in caplog.text and "not used" in caplog.text


def test_wandb_sweep_yaml_yields_valid_train_overrides():
    from seqvision.config import validate

    spec = yaml.safe_load((ROOT / "sweeps" / "wandb" / "search.yaml").read_text())
    assert spec["program"] == "train.py" and spec["metric"]["name"] == "val/acc_best"
    assert "${args_no_hyphens}" in spec["command"]
    fixed = [c for c in spec["command"] if "=" in c and not c.startswith("$")]
    sample = []
    for key, p in spec["parameters"].items():
        value = p["values"][0] if "values" in p else p["min"]
        sample.append(f"{key}={value}")
    cfg = compose([*fixed, *sample])
    validate(cfg)
    assert "wandb" in cfg.logger


def test_ddp_trial_command_reruns_exactly_this_trial_in_its_folder(tmp_path, monkeypatch):
    from seqvision.sweep import ddp

    monkeypatch.setattr(ddp, "identity", lambda: {"overrides": ["trainer=ddp_cpu", "seed=3", "model.net.width=8"]})
    cfg = compose(["trainer=ddp_cpu", "seed=3", f"paths.output_dir={tmp_path}"])
    assert ddp.num_processes(cfg) == 2
    cmd = ddp.command(cfg, 2)
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    assert cmd[5].endswith("train.py") and "-m" not in cmd[6:] and "--multirun" not in cmd
    assert cmd.count("seed=3") == 1 and "model.net.width=8" in cmd
    assert f"hydra.run.dir={tmp_path}" in cmd and "hydra.output_subdir=null" in cmd
    assert not ddp.needs_process_group(cfg)  # not a multirun: Lightning's own launcher is fine


def test_slurm_requeue_turns_resume_on(monkeypatch):
    from seqvision.sweep import trial

    cfg = compose([])
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    assert not trial.wants_resume(cfg)
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert trial.requeued() and trial.wants_resume(cfg)


def test_a_ddp_rank_takes_its_trial_identity_from_the_environment(monkeypatch):
    from seqvision.sweep import trial

    me = {"sweep": "gates", "sweep_id": "x", "job_num": 4, "trial_name": "seed=1", "overrides": ["seed=1"]}
    monkeypatch.setenv(trial.TRIAL_ENV, json.dumps(me))
    assert trial.identity() == me and trial.group("train") == "gates/x"


def _run_dir(monkeypatch, pid: int, **env: str) -> str:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(os, "getpid", lambda: pid)
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return str(hydra_compose("train", return_hydra_config=True).hydra.run.dir)


def test_every_rank_of_a_torchrun_launch_names_the_same_run_folder(monkeypatch):
    """Each rank is its own process, started at its own microsecond: without torchrun's run id in
    the name, each would write its own folder (and its own .hydra, and its own log)."""
    from seqvision.entry import _rank_suffix

    compose([])  # registers the resolvers
    folders = {_run_dir(monkeypatch, 1000 + rank, TORCHELASTIC_RUN_ID="f00d", LOCAL_RANK=str(rank), RANK=str(rank))
               for rank in (0, 1)}
    assert len(folders) == 1 and folders.pop().endswith("/train/runs/torchrun/f00d")
    assert _rank_suffix() == "_rank1"  # rank 1 logs to train_rank1.log; rank 0 to train.log
    monkeypatch.setenv("RANK", "0")
    assert _rank_suffix() == ""

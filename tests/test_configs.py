"""Config conventions: knob names shared by every model, --help lists the options, run folders
are distinct (every option composing and training is tests/test_every_option.py)."""

from __future__ import annotations

from conftest import CONF, compose, run_cli

def test_ablation_knobs_share_names_across_models(tmp_path):
    for path in sorted((CONF / "model").glob("*.yaml")):
        cfg = compose([f"model={path.stem}"], tmp_path)
        assert cfg.model.net.num_layers >= 1, path.name


def test_help_lists_groups_and_options():
    out = run_cli(["--help"], timeout=60).stdout
    for line in ("optimizer: adam, adamw, rmsprop, sgd", "scheduler: cosine, none, onecycle, step",
                 "trainer: cpu, ddp", "task: classify, predict", "speed: default, off",
                 "augmentation: color_jitter, crop, cutmix, cutout, flip, flip_crop, flip_crop_cutout, mixup, none, "
                 "randaugment, rotate, trivialaugment"):
        assert line in out
    models = next(ln for ln in out.splitlines() if ln.startswith("model: "))
    assert "cnn" in models.split(": ", 1)[1].split(", "), models


RESOLVE_RUN_DIR = """
import sys
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from seqvision.entry import register_resolvers
register_resolvers()
with initialize_config_dir(config_dir=sys.argv[1], version_base="1.3"):
    cfg = compose("train", overrides=[f"paths.log_dir={sys.argv[2]}"], return_hydra_config=True)
print(cfg.hydra.run.dir)
"""


def test_runs_started_together_get_distinct_folders(tmp_path):
    import subprocess
    import sys

    cmd = [sys.executable, "-c", RESOLVE_RUN_DIR, str(CONF), str(tmp_path)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    dirs = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(dirs) == 3
    assert all(d.startswith(str(tmp_path / "train" / "runs")) for d in dirs)

"""What the documentation says is what the code does: every flag the README names changes what a
run builds (or has a test of its own that shows its effect), every range a config comment states
is the range the code's annotation accepts, and every speed claim in a docstring or a config
comment points to the log that measured it."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest
import torch
from conftest import ROOT, compose
from omegaconf import OmegaConf

README = (ROOT / "README.md").read_text()
FLAG = re.compile(r"(?<![\w.])((?:data|model|task|trainer|speed|callbacks|optimizer|scheduler|augmentation|budget)"
                  r"\.[a-z_][a-z_0-9.]*[a-z0-9_])(?==)")

# Flags whose effect a test of its own shows (file::test), rather than the generic build probe below.
SHOWN_BY = {
    "data.root": "test_train.py::test_mnist_idx_fit_test_outputs_and_eval_from_checkpoint",
    "data.verify": "test_train.py::test_a_repacked_cifar_copy_is_refused_unless_verify_is_off",
    "data.limit": "test_splits.py::test_limit_on_a_class_sorted_folder_keeps_every_class",
    "data.train_list": "test_video_folder.py::test_official_split_lists_are_used",
    "data.test_list": "test_video_folder.py::test_official_split_lists_are_used",
    "data.hmdb51_splits": "test_video_folder.py::test_hmdb51_split_files_are_used",
    "data.split_index": "test_video_folder.py::test_hmdb51_split_files_are_used",
    "data.kth_split": "test_video_folder.py::test_kth_split_is_by_person",
    "data.stride": "test_video_folder.py::test_frames_are_sampled_at_the_stride_around_the_middle",
    "data.cache_dir": "test_video_folder.py::test_clips_load_as_uint8_T_C_H_W_and_are_cached",
    "data.num_frames": "test_video_folder.py::test_clips_load_as_uint8_T_C_H_W_and_are_cached",
    "data.channels": "test_video_folder.py::test_kth_split_is_by_person",
    "trainer.accelerator": "test_bad_inputs.py::test_bad_input_in_process",  # an accelerator this machine lacks
    "data.test_file": "test_moving_mnist.py::test_the_standard_test_file_is_read_as_T_N_H_W",
    "task.tta": "test_classify.py::test_flip_tta_scores_the_mirror_a_net_only_knows_on_the_other_side",
    "task.ema": "test_classify.py::test_ema_tests_better_weights_where_sgd_ends_on_a_noisy_step",
    "trainer.deterministic": "test_determinism.py::test_same_seed_gives_bit_identical_metrics",
    "callbacks.mid_epoch_checkpoint.every_n_train_steps": "test_resume.py::test_sigkill_at_several_points_then_resume_matches_uninterrupted",
    "speed.num_threads": "test_speed.py::test_global_flags_follow_the_config",
    "speed.matmul_precision": "test_speed.py::test_global_flags_follow_the_config",
    "speed.cudnn_benchmark": "test_speed.py::test_global_flags_follow_the_config",
    "model.channels_last": "test_speed.py::test_channels_last_net_computes_the_same_and_keeps_its_state_dict",
    "model.net.impl": "test_cells.py::test_each_impl_is_one_way_of_computing_the_same_sequence",
    "model.net.whiten": "test_airbench.py::test_the_whitening_stem_decorrelates_the_patches_it_was_fitted_to",
    "model.net.forecast": "test_video_models.py::test_a_feedback_forecaster_reads_its_own_predictions",
    "model.net.head": "test_video_models.py::test_a_linear_head_predicts_the_frames_and_its_mse_never_saturates",
    "budget.seconds": "test_budget.py::test_budget_seconds_ends_within_5_percent_and_the_schedule_follows_the_clock",
    "budget.flops": "test_budget.py::test_budget_flops_ends_within_5_percent",
    "budget.samples": "test_budget.py::test_budget_samples_ends_within_a_batch_and_the_schedule_ends_with_it",
}

# Flags probed here: (the overrides that make the flag's value meaningful, the value). The probe
# builds what a run builds from the config with and without the flag and requires a difference.
PROBED = {
    "data.on_device": ([], "false"),
    "data.batch_size": ([], "32"),
    "data.val_fraction": ([], "0.3"),
    "data.image_size": (["data=moving_mnist", "model=convlstm"], "32"),
    "data.train_size": (["data=moving_mnist", "model=convlstm"], "100"),
    "data.val_size": (["data=moving_mnist", "model=convlstm"], "50"),
    "data.test_size": (["data=moving_mnist", "model=convlstm"], "50"),
    "model.net.num_layers": ([], "2"),
    "model.net.width": ([], "8"),
    "model.net.cell": (["model=row_lstm"], "gru"),
    "model.net.patch_size": (["model=attention"], "7"),
    "model.net.hidden_channels": (["model=convlstm"], "16"),
    "model.net.stem_layers": (["model=cnn_lstm"], "3"),
    "model.compile": ([], "true"),
    "optimizer.lr": ([], "0.5"),
    "task.label_smoothing": ([], "0.1"),
    "trainer.max_epochs": ([], "3"),
    "trainer.precision": ([], "bf16-mixed"),
    "trainer.max_time": ([], "00:00:01:00"),
    "task.loss": (["data=moving_mnist", "model=convlstm"], "bce"),
}


def readme_flags() -> set[str]:
    return set(FLAG.findall(README))


def test_every_flag_the_readme_names_is_shown_to_have_an_effect():
    flags = readme_flags()
    assert len(flags) >= 20, flags
    assert sorted(flags - set(SHOWN_BY) - set(PROBED)) == [], "a README flag with no test of its effect"
    for flag, ref in SHOWN_BY.items():
        file, name = ref.split("::")
        assert f"def {name}(" in (ROOT / "tests" / file).read_text(), f"{flag}: {ref} does not exist"


def _built(overrides: list[str], tmp_path: Path) -> dict:
    """What a run builds from the config, described as plain values: the data module's settings,
    the net's structure and size, the task's switches, the optimizer's groups, the Trainer's."""
    from hydra.utils import instantiate

    from seqvision import run

    cfg = compose([*overrides, "callbacks.rich_progress_bar=null"], tmp_path / "run")
    dm = run.build_datamodule(cfg)
    task = run._task(cfg, run.build_net(cfg, dm), dm)
    trainer = instantiate(cfg.trainer, callbacks=[], logger=False)
    task.trainer = trainer
    optimizer = task.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    simple = (int, float, str, bool, tuple, dict, type(None))
    return {"data": {k: v for k, v in vars(dm).items() if isinstance(v, simple) and not k.startswith("_")},
            "net": (repr(task.net), sum(p.numel() for p in task.net.parameters()), type(task.net).__name__),
            "task": {k: v for k, v in vars(task).items() if isinstance(v, simple) and not k.startswith("_")},
            "optimizer": [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups],
            "trainer": (trainer.max_epochs, type(trainer.precision_plugin).__name__, type(trainer.accelerator).__name__,
                        [repr(vars(c)) for c in trainer.callbacks if type(c).__name__ == "Timer"])}


@pytest.mark.parametrize("flag", sorted(PROBED))
def test_a_readme_flag_changes_what_a_run_builds(flag, tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda net, **kw: torch.nn.Sequential(net))  # what compiling wraps, fast
    context, value = PROBED[flag]
    key = f"++{flag}" if flag.startswith("trainer.") else flag
    assert _built([*context, f"{key}={value}"], tmp_path) != _built(context, tmp_path), f"{flag}={value} changed nothing"


# -- ranges --------------------------------------------------------------------------------------
def _commented_keys(path: Path):
    """``(dotted key, value, comment)`` of every ``key: value  # comment`` line of a YAML file."""
    stack: list[tuple[int, str]] = []
    for line in path.read_text().splitlines():
        m = re.match(r"^(\s*)([A-Za-z_][\w]*):\s*([^#]*?)\s*(?:#\s*(.*))?$", line)
        if not m:
            continue
        indent, key, value, comment = len(m.group(1)), m.group(2), m.group(3), m.group(4)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if comment and value:
            yield ".".join(k for _, k in stack), value, comment


def _annotation(group: str, option: str, key: str):
    """The constructor annotation a config key of ``conf/<group>/<option>.yaml`` is checked against."""
    from hydra.utils import get_object

    from seqvision.nets.family import family_of
    from seqvision.validate import signature_of

    node = OmegaConf.load(ROOT / "conf" / group / f"{option}.yaml")
    parent, _, leaf = key.rpartition(".")
    target_node = OmegaConf.select(node, parent) if parent else node
    target = get_object(str(target_node.get("_target_")))
    classes = list(family_of(target).members.values()) if parent.endswith("net") or group == "model" else [target]
    for cls in classes:
        params, _ = signature_of(cls)
        if leaf in params:
            return params[leaf][0]
    return None


RANGE_SAYINGS = [(re.compile(r"(?:^|[(;,]\s*)(\d+) = "), "valid"), (re.compile(r"\(?>= ?(\d+)(?![\dx])"), "floor"),
                 (re.compile(r"\((\d+): "), "valid")]


def _stated_ranges():
    for path in sorted((ROOT / "conf").glob("*/*.yaml")):
        if path.parent.name in ("experiment", "sweep", "recipe"):
            continue
        for key, _, comment in _commented_keys(path):
            for pattern, kind in RANGE_SAYINGS:
                for number in pattern.findall(comment):
                    yield path.parent.name, path.stem, key, int(number), kind, comment


STATED = list(_stated_ranges())


def test_config_comments_state_ranges():
    assert len(STATED) >= 4  # the parser finds what the comments say


@pytest.mark.parametrize("group,option,key,number,kind,comment", STATED,
                         ids=[f"{g}/{o}:{k}" for g, o, k, *_ in STATED])
def test_a_range_a_config_comment_states_is_the_annotation_s(group, option, key, number, kind, comment):
    from seqvision.validate import value_problem

    annotation = _annotation(group, option, key)
    assert annotation is not None, f"conf/{group}/{option}.yaml: {key} has no annotated parameter"
    assert value_problem(key, number, annotation) is None, f"the comment says {comment!r}; the code refuses {number}"
    if kind == "floor":
        assert value_problem(key, number - 1, annotation) is not None, f"the comment says {comment!r}; the code takes {number - 1}"


def test_the_readme_s_seed_range_is_the_config_s():
    from seqvision.config import RunConfig
    from seqvision.validate import value_problem

    assert "`seed` (0..2^32-1;" in README
    ann = __import__("typing").get_type_hints(RunConfig, include_extras=True)["seed"]
    assert value_problem("seed", 0, ann) is None and value_problem("seed", 2**32 - 1, ann) is None
    assert value_problem("seed", -1, ann) is not None and value_problem("seed", 2**32, ann) is not None


# -- speed claims ------------------------------------------------------------------------------
CLAIM = re.compile(r"(\d+(\.\d+)?\s*x\s*(faster|slower|the)|(faster|slower|speed-?up)\b[^.]*\d|\d[^.]*\b(faster|slower)\b|"
                   r"\bx\d+(\.\d+)?\b)", re.I)


def _texts(path: Path):
    """Docstrings and comment blocks of a Python file; comment blocks of a YAML file."""
    text = path.read_text()
    if path.suffix == ".py":
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    yield doc
        comments = [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.COMMENT]
        yield from comments
    else:
        block: list[str] = []
        for line in text.splitlines() + [""]:
            if "#" in line:
                block.append(line.split("#", 1)[1])
            elif block:
                yield " ".join(block)
                block = []


SOURCES = [p for p in [*(ROOT / "src").rglob("*.py"), *(ROOT / "conf").rglob("*.yaml"),
                       *(ROOT / "experiments").glob("*.yaml"), *(ROOT / "sweeps").rglob("*.yaml")]
           if "egg-info" not in str(p)]


def test_every_speed_claim_in_code_and_configs_points_to_its_log():
    unbacked = [f"{p.relative_to(ROOT)}: {m.group(0)!r} in {t[:120]!r}"
                for p in SOURCES for t in _texts(p) for m in [CLAIM.search(t)] if m and "benchmarks/results/" not in t]
    assert unbacked == []

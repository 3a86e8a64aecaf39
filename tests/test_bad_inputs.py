"""Every bad command fails before any work, with one line: what is wrong, what is valid, a fix.

Most cases compose the config and call ``seqvision.run.train``; the command-line cases run
``train.py``'s entry point in this process (``run_train_here``) to check the exit status (2), the
single ``error:`` line and the absence of a traceback, and one of them also as a real process. Each case also checks that no checkpoint or
``results.json`` was left behind.
"""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, run_train, run_train_here

from seqvision.errors import ConfigError, DataError, UserError

BASE = ["trainer.max_epochs=1", "data.limit=64", "logger=csv"]

# (id, overrides, a fragment the one-line message must contain)
IN_PROCESS = [
    ("negative-lr", ["optimizer.lr=-0.1"], "optimizer.lr=-0.1 is out of range"),
    ("zero-lr", ["optimizer.lr=0"], "optimizer.lr=0"),
    ("lr-not-a-number", ["optimizer.lr=fast"], "is not a number"),
    ("dropout-one", ["model.net.dropout=1.0"], "model.net.dropout=1.0"),
    ("dropout-above-one", ["model.net.dropout=1.5"], "model.net.dropout=1.5"),
    ("depth-negative", ["model.net.num_layers=-2"], "model.net.num_layers=-2"),
    ("depth-float", ["model.net.num_layers=2.5"], "is not an integer"),
    ("batch-size-float", ["data.batch_size=1.5"], "data.batch_size=1.5 is not an integer"),
    ("batch-size-negative", ["data.batch_size=-8"], "data.batch_size=-8"),
    ("val-fraction-zero", ["data.val_fraction=0"], "data.val_fraction=0"),
    ("val-fraction-one", ["data.val_fraction=1.0"], "data.val_fraction=1.0"),
    ("val-fraction-negative", ["data.val_fraction=-0.2"], "data.val_fraction=-0.2"),
    ("limit-zero", ["data.limit=0"], "data.limit=0"),
    ("max-epochs-zero", ["trainer.max_epochs=0"], "trainer.max_epochs=0"),
    ("schedule-without-a-length", ["trainer.max_epochs=-1"], "is built for the run's length, and trainer.max_epochs=-1"),
    ("precision-unknown", ["trainer.precision=fp8"], "trainer.precision='fp8'"),
    ("accelerator-unknown", ["trainer.accelerator=quantum"], "trainer.accelerator='quantum'"),
    ("accelerator-absent", ["trainer.accelerator=mps"], "trainer:"),
    ("accelerator-needs-package", ["trainer.accelerator=tpu"], "trainer:"),
    ("clip-negative", ["trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val=-1"),
    ("clip-algorithm", ["trainer.gradient_clip_algorithm=clip"], "valid: norm, value or null"),
    ("deterministic-not-bool", ["trainer.deterministic=maybe"], "valid: true, false, warn or null"),
    ("weight-decay-negative", ["optimizer.weight_decay=-1"], "optimizer.weight_decay=-1"),
    ("momentum-one", ["optimizer=sgd", "optimizer.momentum=1.0"], "optimizer.momentum=1.0"),
    ("scheduler-interval", ["scheduler.interval=batch"], "step or epoch"),
    ("task-name-slash", ["task_name=a/b"], "task_name='a/b'"),
    ("nothing-to-do", ["train=false", "test=false"], "nothing to do"),
    ("eval-without-ckpt", ["train=false"], "needs a checkpoint"),
    ("ckpt-missing", ["ckpt_path=/nonexistent/last.ckpt"], "no such file"),
    ("mid-epoch-ckpt-negative", ["callbacks.mid_epoch_checkpoint.every_n_train_steps=-5"], "every_n_train_steps=-5"),
    ("required-root", ["data=image_folder"], "data.root is required"),
    ("patch-size", ["model=attention", "model.net.patch_size=5"], "patch_size=5 does not divide the 28x28 image"),
    ("row-model-on-clips", ["data._target_=fakes.ClipDigitsDataModule", "model=row_lstm"], "has no meaning for clip classification"),
    ("unknown-task-option", ["+task.gamma=2"], "task.gamma is not an option of"),
    ("unknown-cell", ["model=row_lstm", "model.net.cell=lstmx"], "model.net.cell='lstmx' is not valid; valid: a cell name"),
    ("typo-in-a-net-knob", ["+model.net.widht=8"], "model.net.widht is not an option of"),
    ("task-for-other-data", ["task=predict"], "takes clips, but"),
    ("seed-too-large", ["seed=4294967296"], "seed=4294967296 is out of range"),
    ("strategy-unknown", ["+trainer.strategy=nope"], "trainer.strategy='nope' is not valid"),
    ("depth-zero", ["model.net.num_layers=0"], "model.net.num_layers=0 is out of range"),
    ("batch-size-zero", ["data.batch_size=0"], "data.batch_size=0 is out of range"),
    ("bce-on-frames", ["data=moving_mnist", "model=convlstm", "model.net.head=linear", "task.loss=bce"],
     "task.loss=bce needs logits, but model.net.head=linear"),
    ("head-unknown", ["data=moving_mnist", "model=convlstm", "model.net.head=tanh"], "model.net.head='tanh' is not one of the choices"),
    ("evaluate-best", ["train=false", "ckpt_path=best"], "ckpt_path=best names a checkpoint of this run, and train=false"),
    ("evaluate-last", ["train=false", "ckpt_path=last"], "ckpt_path=last names a checkpoint of this run"),
    ("train-from-best", ["ckpt_path=best"], "ckpt_path=best names no checkpoint to start training from"),
    ("evaluate-empty-folder", ["train=false", "ckpt_path=/"], "holds no best checkpoint"),
    ("classify-frames", ["data=moving_mnist", "model=convlstm", "task=classify"], "learns from class labels, but"),
    ("predict-labels", ["data=moving_mnist_labels", "model=convlstm", "task=predict"], "learns from the frames that follow"),
    ("augmentation-p", ["augmentation=flip", "augmentation.ops.flip.p=1.5"], "augmentation.ops.flip.p=1.5 is out of range"),
    ("augmentation-typo", ["augmentation=crop", "+augmentation.ops.crop.padding=2"],
     "augmentation.ops.crop.padding is not an option of RandomCrop; valid: pad"),
    ("kornia-p", ["augmentation=rotate", "augmentation.ops.rotate.p=2.0"], "augmentation.ops.rotate.p=2.0 is out of range"),
    ("kornia-typo", ["augmentation=rotate", "+augmentation.ops.rotate.degree=3"], "augmentation.ops.rotate.degree is not an option"),
    ("optimized-metric-unknown", ["optimized_metric=val/accuracy"], "optimized_metric=val/accuracy is not a metric"),
    ("monitor-unknown", ["callbacks.model_checkpoint.monitor=val/los"], "callbacks.model_checkpoint.monitor=val/los is not"),
    ("patience-negative", ["callbacks=early_stopping", "callbacks.early_stopping.patience=-1"], "patience=-1 is out of range"),
    ("lookahead-decay", ["+callbacks.lookahead._target_=seqvision.callbacks.lookahead.Lookahead",
                         "+callbacks.lookahead.decay=1.5"], "callbacks.lookahead.decay=1.5 is out of range"),
    ("image-folder-channels", ["data=image_folder", "data.root=/nonexistent", "data.channels=4"],
     "data.channels=4 is not one of the choices; valid: 1 or 3"),
    ("video-split-index", ["data=video_folder", "data.root=/nonexistent", "model=cnn_lstm", "data.split_index=4"],
     "data.split_index=4 is not one of the choices; valid: 1, 2 or 3"),
    ("video-num-frames", ["data=video_folder", "data.root=/nonexistent", "model=cnn_lstm", "data.num_frames=0"],
     "data.num_frames=0 is out of range"),
]


def _assert_no_outputs(run_dir, allow_failed_record: bool = False):
    """No checkpoint, no temporary file; a ``results.json`` only as a complete 'failed' record
    (data errors surface in the data module's ``prepare_data``, once the trainer exists)."""
    assert not (run_dir / "checkpoints").exists(), "a failed command must not write checkpoints"
    assert not list(run_dir.rglob("*.tmp*")) if run_dir.exists() else True
    if allow_failed_record and (run_dir / "results.json").exists():
        record = json.loads((run_dir / "results.json").read_text())
        assert record["status"] == "failed" and "DataError" in record["error"]
    else:
        assert not (run_dir / "results.json").exists()


@pytest.mark.parametrize("case", IN_PROCESS, ids=[c[0] for c in IN_PROCESS])
def test_bad_input_in_process(case, compose_cfg, tmp_path, monkeypatch):
    from seqvision.run import train

    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    _, overrides, fragment = case
    cfg = compose_cfg([*BASE, *overrides])
    with pytest.raises(UserError) as info:
        train(cfg)
    message = str(info.value)
    assert isinstance(info.value, (ConfigError, DataError))
    assert len(message.splitlines()) == 1, message
    assert fragment in message, message
    assert "e.g." in message or "Fix:" in message, f"no example fix in: {message}"
    _assert_no_outputs(tmp_path / "run")


def test_missing_dataset_is_a_data_error(compose_cfg, tmp_path):
    from seqvision.run import train

    cfg = compose_cfg([*BASE, "data=mnist", f"data.root={tmp_path / 'empty'}", "data.download=false"])
    with pytest.raises(DataError) as info:
        train(cfg)
    assert "MNIST not found under" in str(info.value) and "data=digits" in str(info.value)
    _assert_no_outputs(tmp_path / "run", allow_failed_record=True)


CLI = [
    ("lr-not-a-number", ["optimizer.lr=abc"], "optimizer.lr='abc' is not a number"),
    ("seed-not-an-int", ["seed=x"], "seed='x' is not an integer"),
    ("seed-negative", ["seed=-5"], "seed=-5 is out of range; valid: an integer in [0, 4294967295]"),
    ("unknown-key", ["optimizer.lrr=0.1"], "optimizer.lrr is not a config key; valid keys under optimizer"),
    ("unknown-option", ["data=imagenet"], "data=imagenet is not an option of data; valid: "),
    ("override-syntax", ["optimizer.lr==0.1"], "cannot parse the override"),
    ("resume-no-folder", ["resume=/nonexistent/run"], "no such run folder"),
    ("patch-size", ["model=attention", "model.net.patch_size=6"], "patch_size=6 does not divide"),
    ("evaluate-best", ["train=false", "ckpt_path=best"], "ckpt_path=best names a checkpoint of this run"),
    ("trainer-typo", ["trainer.max_epoch=3"], "trainer.max_epoch is not an option of"),
    ("recipe-replaces-a-chosen-group", ["model=cnn_lstm", "data=cifar10", "optimizer=adamw"],
     "optimizer=adamw is replaced by recipe=cnn_lstm_cifar10, which trains with torch.optim.SGD"),
    ("recipe-typo", ["recipe=cnn_lstm_cifar"], "recipe=cnn_lstm_cifar is not an option of recipe"),
    ("plus-on-existing-key", ["+optimizer.lr=0.1"], "+key=value adds a new one"),
    ("classify-frames", ["data=moving_mnist", "model=convlstm", "task=classify"],
     "task=classify learns from class labels, but data=moving_mnist gives the frames"),
]


def _assert_refused_in_one_line(proc, fragment: str, run_dir) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "Traceback" not in output
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert fragment in errors[0], errors[0]
    assert "e.g." in errors[0]
    assert proc.stderr.strip().splitlines()[-1] == errors[0], "the error line is the last thing printed"
    assert not run_dir.exists(), f"a refused command left its run folder: {sorted(p.name for p in run_dir.iterdir())}"


@pytest.mark.parametrize("overrides,fragment", [pytest.param(o, f, id=n) for n, o, f in CLI])
def test_bad_input_cli(overrides, fragment, tmp_path):
    run_dir = tmp_path / "run"
    _assert_refused_in_one_line(run_train_here([*BASE, *overrides, f"hydra.run.dir={run_dir}"]), fragment, run_dir)


def test_a_refused_command_is_a_process_that_exits_2_with_one_line(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_train([*BASE, "seed=-5", f"hydra.run.dir={run_dir}"], timeout=240)
    _assert_refused_in_one_line(proc, "seed=-5 is out of range", run_dir)


def test_full_error_shows_the_traceback(tmp_path):
    """With ``HYDRA_FULL_ERROR=1`` the user's mistake is not turned into an ``error:`` line and an
    exit status: the exception leaves the entry point, and the interpreter prints its traceback."""
    with pytest.raises(ConfigError, match="seed=.x. is not an integer"):
        run_train_here([*BASE, "seed=x", f"hydra.run.dir={tmp_path / 'run'}"], HYDRA_FULL_ERROR="1")


def test_a_file_that_is_not_a_checkpoint_is_named_with_the_fix(tmp_path):
    bogus = tmp_path / "notes.ckpt"
    bogus.write_text("not a checkpoint")
    run_dir = tmp_path / "run"
    proc = run_train_here([*BASE, "train=false", f"ckpt_path={bogus}", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert str(bogus) in line and "is not a checkpoint" in line and "e.g. ckpt_path=" in line
    assert not run_dir.exists()


def test_a_bug_in_our_code_keeps_its_traceback(tmp_path):
    """A failure that is not a known user mistake is never dressed up as one: no ``error:`` line,
    the traceback, and not exit status 2."""
    run_dir = tmp_path / "run"
    proc = run_train_here([*BASE, "model.net._target_=fakes.BuggyNet", f"hydra.run.dir={run_dir}"])
    assert proc.returncode not in (0, 2)
    assert "Traceback" in proc.stderr and "an internal inconsistency" in proc.stderr
    assert not any(line.startswith("error:") for line in proc.stderr.splitlines())


def test_a_net_argument_check_is_a_user_error_and_a_bug_is_not(compose_cfg, monkeypatch):
    from seqvision.run import train

    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    with pytest.raises(ConfigError, match="model ViT on data DigitsDataModule: patch_size=5 does not divide"):
        train(compose_cfg([*BASE, "model=attention", "model.net.patch_size=5"]))
    with pytest.raises(Exception) as info:
        train(compose_cfg([*BASE, "model.net._target_=fakes.BuggyNet"]))
    assert not isinstance(info.value, UserError)

"""Training end to end on tiny files in the real on-disk formats, and every output a run leaves."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from conftest import run_cli, run_train_here, train_in_process
from wandb_records import summarize_when_complete


def _mnist(root: Path) -> list[str]:
    return ["data=mnist", f"data.root={root}", "data.download=false", "data.batch_size=32"]


def test_mnist_idx_fit_test_outputs_and_eval_from_checkpoint(mnist_root, tmp_path):
    out = tmp_path / "run"
    value, results = train_in_process(_mnist(mnist_root) + ["trainer.max_epochs=3"], out)
    assert results["status"] == "completed"
    m = results["metrics"]
    assert m["test/acc"] >= 0.6, m  # the fixture's classes are separable
    assert value == pytest.approx(m["val/acc_best"])
    assert results["epochs"] == 3 and results["global_step"] > 0
    best, last = Path(results["best_checkpoint"]), out / "checkpoints" / "last.ckpt"
    assert best.is_file() and last.is_file() and best != last
    rows = list(csv.DictReader((out / "csv" / "metrics.csv").open()))
    header = set(rows[0])
    assert {"train/loss_step", "val/acc", "val/acc_best", "test/acc", "lr-AdamW"} <= header, header
    assert any(r["test/acc"] for r in rows)

    # train=false evaluates a checkpoint: the same weights give the same test accuracy
    _, again = train_in_process(_mnist(mnist_root) + ["train=false", f"ckpt_path={best}"], tmp_path / "eval")
    assert again["metrics"]["test/acc"] == pytest.approx(m["test/acc"])
    assert again["metrics"]["test/loss"] == pytest.approx(m["test/loss"], rel=1e-5)


def test_cifar10_pickled_batches(tmp_path, monkeypatch):
    from fixtures import write_cifar10
    from torchvision.datasets import CIFAR10

    md5 = write_cifar10(tmp_path / "data")
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5["batches.meta"]})
    _, results = train_in_process(["data=cifar10", "recipe=none", f"data.root={tmp_path / 'data'}", "data.download=false",
                                   "data.batch_size=20", "augmentation=flip_crop", "model.net.width=8",
                                   "trainer.max_epochs=4"], tmp_path / "run")
    assert results["status"] == "completed"
    assert results["data"]["used"] == {"train": 180, "val": 20, "test": 80}
    assert results["metrics"]["test/acc"] >= 0.4, results["metrics"]  # separable classes: far above chance (0.1)


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_a_repacked_cifar_copy_is_refused_unless_verify_is_off(dataset, tmp_path):
    """Files whose MD5s differ from the canonical ones (a re-packed copy): data.verify=true names
    the first file that fails, data.verify=false reads every one of them."""
    from fixtures import write_cifar10, write_cifar100

    from seqvision.errors import DataError

    (write_cifar10 if dataset == "cifar10" else write_cifar100)(tmp_path / "data")
    args = [f"data={dataset}", f"data.root={tmp_path / 'data'}", "data.download=false", "data.batch_size=50",
            "model.net.width=8", "model.net.num_layers=1"]
    with pytest.raises(DataError, match="fails its MD5 check"):
        train_in_process(args, tmp_path / "verified")
    _, results = train_in_process([*args, "data.verify=false"], tmp_path / "unverified")
    total = {"cifar10": 200 + 80, "cifar100": 200 + 100}[dataset]
    assert sum(results["data"]["used"].values()) == total and results["data"]["evaluated"]["test"] == total - 200


def test_cifar_with_wrong_checksum_is_reported_as_corrupt_or_missing(tmp_path):
    from fixtures import write_cifar10

    write_cifar10(tmp_path / "data")  # real torchvision md5 check fails on these files
    proc = run_train_here(["data=cifar10", f"data.root={tmp_path / 'data'}", "data.download=false",
                           f"paths.log_dir={tmp_path / 'logs'}"])
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "CIFAR-10" in proc.stderr and str(tmp_path / "data") in proc.stderr


def test_missing_data_names_dataset_folder_files_and_fixes(tmp_path):
    proc = run_train_here(["data=mnist", f"data.root={tmp_path / 'empty'}", "data.download=false",
                           f"paths.log_dir={tmp_path / 'logs'}"])
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert err[-1].startswith("error: MNIST not found under") and "Traceback" not in proc.stderr
    for needle in (str(tmp_path / "empty"), "train-images-idx3-ubyte", "data.root=", "data=digits"):
        assert needle in err[-1]
    assert not list((tmp_path / "logs").rglob("*.ckpt"))


def test_default_command_writes_a_complete_run_folder(tmp_path):
    proc = run_cli([f"paths.log_dir={tmp_path}", "trainer.max_epochs=1", "data.limit=300"], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = list((tmp_path / "train" / "runs").glob("*/*"))
    for rel in (".hydra/config.yaml", ".hydra/overrides.yaml", "train.log", "results.json", "csv/metrics.csv",
                "checkpoints/last.ckpt"):
        assert (run / rel).is_file(), rel
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "completed" and results["run_dir"] == str(run)
    assert "test/acc" in proc.stdout  # the test metrics are printed at the end
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == results["global_step"] and "state_dict" in ckpt


def test_wandb_falls_back_to_offline_and_writes_the_run(tmp_path, monkeypatch, caplog):
    for var in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    out = tmp_path / "run"
    with caplog.at_level("WARNING"):
        _, results = train_in_process(["logger=wandb", "data.limit=200", "tags=[unit,offline]"], out)
    assert any("logging offline" in r.message for r in caplog.records)
    (run_dir,) = list((out / "wandb").glob("offline-run-*"))
    (run_file,) = list(run_dir.glob("run-*.wandb"))
    logged = summarize_when_complete(run_file)
    assert logged["run"].run_group == "train" and list(logged["run"].tags) == ["unit", "offline"]
    assert logged["config"]["model"]["net"]["_target_"] == "seqvision.nets.cnn.family"  # the resolved config
    assert logged["config"]["paths"]["output_dir"] == str(out)
    assert {"train/loss_epoch", "val/acc", "test/acc"} <= logged["history_keys"]
    assert logged["summary"]["test/acc"] == pytest.approx(results["metrics"]["test/acc"])
    assert logged["summary"]["status"] == "completed" and logged["exit"] == 0

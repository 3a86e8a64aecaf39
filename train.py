"""Train, then test, one model: ``python train.py model=cnn_lstm data=cifar10``.

A thin Hydra entry point; the work happens in ``seqvision.run``. Heavy imports (torch,
Lightning) wait until a run really starts, so ``--help`` and ``--cfg job`` answer at once.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("SEQVISION_ROOT", os.path.dirname(os.path.abspath(__file__)))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from seqvision.cli import prepare  # noqa: E402
from seqvision.entry import register_resolvers, run_or_exit  # noqa: E402

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return run_or_exit(cfg)


if __name__ == "__main__":
    sys.argv = prepare(sys.argv, Path(__file__).resolve().parent / "conf")  # resume=<folder>, typo checks
    main()

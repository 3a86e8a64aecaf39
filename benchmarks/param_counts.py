"""Parameter counts of every model config at its defaults, as a markdown table (docs/models.md points to its output).

    python benchmarks/param_counts.py
    python benchmarks/param_counts.py --smoke   # the same (it takes seconds); accepted like every benchmark's
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SEQUENCE_AXIS = {
    "cnn": "none (conv blocks, global pooling)",
    "row_lstm": "image rows (T = H = 28/32, C*W features per step)",
    "cnn_lstm": "rows of the conv feature map (T = 7/8 at defaults, C'*W' features)",
    "convlstm": "recurrent steps over the same feature map (`steps`), or video frames",
    "attention": "patch tokens (7x7 / 8x8 patches of 4x4) + class token, attended jointly",
}


def build(name: str, shape, classes: int):
    """The image classifier of the model's family, from its yaml's knobs."""
    from hydra.utils import get_object

    from seqvision.nets.family import family_of

    cfg = yaml.safe_load((ROOT / "conf" / "model" / f"{name}.yaml").read_text())["net"]
    family = family_of(get_object(cfg.pop("_target_")))
    return family.build("image_classifier", {"input_shape": shape, "num_classes": classes}, cfg)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="the same run: it takes seconds")
    parser.parse_args()
    print(f"# command: {' '.join(sys.argv)}")
    print("| model (config) | class | sequence axis for images | params 1x28x28, 10 classes | params 3x32x32, 10 classes |")
    print("|---|---|---|---:|---:|")
    for name, axis in SEQUENCE_AXIS.items():
        counts = [sum(p.numel() for p in build(name, s, 10).parameters()) for s in ((1, 28, 28), (3, 32, 32))]
        cls = type(build(name, (1, 28, 28), 10)).__name__
        print(f"| {name} | `{cls}` | {axis} | {counts[0]:,} | {counts[1]:,} |")


if __name__ == "__main__":
    main()

"""seqvision: Lightning + Hydra experiments with CNN, recurrent and attention vision models."""

__version__ = "0.1.0"

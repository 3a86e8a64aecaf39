"""LightningModules, one per task: classification and frame prediction."""

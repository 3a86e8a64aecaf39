"""What a run cost: FLOPs counted by torch (``flops``), time and memory from the OS (``usage``),
energy from the machine's own counters where it has them (``energy``). Measurements only: the
Lightning callback that takes them during a run is ``seqvision.callbacks.cost``."""

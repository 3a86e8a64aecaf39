"""Energy from the machine's own counters: Intel RAPL (``/sys/class/powercap/intel-rapl:N``,
the CPU packages: every process on them, not this run alone) or NVML on an NVIDIA GPU (that
device's total energy counter, Volta and newer, through ``pynvml``). Where neither can be
read the meter says why, and the run records "not measured" with that reason: never a guess
from a nominal power.

RAPL's ``energy_uj`` wraps around at ``max_energy_range_uj`` (about 262 kJ: under an hour at
100 W), so the meter is sampled during the run (``sample``, at most once a second) and sums
each step's difference, adding the range where the counter went down.
"""

from __future__ import annotations

import time
from pathlib import Path

POWERCAP = Path("/sys/class/powercap")
MIN_INTERVAL_S = 1.0


class RaplCounter:
    def __init__(self, root: Path = POWERCAP):
        self.zones = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)  # packages, not subzones
        if not self.zones:
            raise OSError(f"no RAPL package zones under {root}")
        self.ranges = [int((z / "max_energy_range_uj").read_text()) for z in self.zones]
        self.last = self._read()  # PermissionError on kernels that keep energy_uj root-only

    def _read(self) -> list[int]:
        return [int((z / "energy_uj").read_text()) for z in self.zones]

    def joules_since_last(self) -> float:
        now = self._read()
        delta = sum(b - a if b >= a else b + r - a for a, b, r in zip(self.last, now, self.ranges))
        self.last = now
        return delta / 1e6


class NvmlCounter:
    def __init__(self, index: int):
        import pynvml

        pynvml.nvmlInit()
        self._nvml = pynvml
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self.last = pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)  # mJ since the driver loaded

    def joules_since_last(self) -> float:
        now = self._nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        delta, self.last = now - self.last, now
        return delta / 1e3


class EnergyMeter:
    """Joules between ``start`` and ``stop`` (``joules``), or None and ``why`` when unreadable."""

    def __init__(self, device_type: str = "cpu", device_index: int = 0, root: Path = POWERCAP):
        self.device_type, self.device_index, self.root = device_type, device_index, root
        self.joules: float | None = None
        self.why = ""
        self._counter = None
        self._last_sample = 0.0

    @property
    def source(self) -> str:
        return "NVML (this GPU)" if self.device_type == "cuda" else "RAPL (CPU packages, whole machine)"

    def start(self) -> None:
        try:
            self._counter = NvmlCounter(self.device_index) if self.device_type == "cuda" else RaplCounter(self.root)
        except ImportError:
            self.why = "pynvml is not installed"
        except PermissionError as err:
            self.why = f"permission denied reading {err.filename or self.root}"
        except Exception as err:  # no such counter on this machine or driver (OSError, NVMLError)
            self.why = f"{type(err).__name__}: {err}"
        else:
            self.joules = self.joules or 0.0
        self._last_sample = time.monotonic()

    def sample(self, force: bool = False) -> None:
        if self._counter is None or (not force and time.monotonic() - self._last_sample < MIN_INTERVAL_S):
            return
        try:
            self.joules += self._counter.joules_since_last()
        except Exception as err:  # the counter became unreadable mid-run: what it measured is incomplete
            self.joules, self._counter, self.why = None, None, f"counter unreadable during the run ({err})"
        self._last_sample = time.monotonic()

    def stop(self) -> None:
        self.sample(force=True)
        self._counter = None

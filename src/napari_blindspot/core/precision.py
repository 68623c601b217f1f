"""Which number format the network computes in: float32, or bfloat16/float16 mixed precision.

    precision = Precision.choose("auto", device)   # bfloat16 where the CPU or GPU has it
    with precision.autocast():
        out = model.net(x)                          # convolutions in the low format
    loss(out.float())                               # losses, heads, statistics: float32

Master weights stay float32 (autocast casts them per operation): the optimiser, the losses,
the normalisation and HQ-SSL's noise model never see a low-precision number.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path

import torch

CPUINFO = Path("/proc/cpuinfo")
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # the CPU instructions that make bfloat16 convolutions fast
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True where the CPU computes bfloat16 natively (AVX-512 BF16 or AMX): elsewhere bfloat16
    is emulated and slower than float32."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, probe, None)
        try:
            if check is not None and check():
                return True
        except RuntimeError:  # a torch built without the probe's backend
            pass
    try:  # torch's probes need its oneDNN build; the kernel's flags say it too
        flags = CPUINFO.read_text().split()
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_FLAGS)


def _cuda_low_precision(amp: bool) -> str:
    if not amp:
        return "float32"
    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


class Precision:
    """The number format of one run's forward passes: autocast, and (float16) gradient scaling."""

    def __init__(self, name: str, device_type: str = "cpu"):
        if name not in _DTYPES:
            raise ValueError(f"unknown precision {name!r}: use one of {', '.join(_DTYPES)}")
        self.name, self.device_type = name, device_type
        self.dtype = _DTYPES[name]
        # float16's narrow range needs its gradients scaled; bfloat16 has float32's range
        self.scaler = torch.amp.GradScaler("cuda", enabled=name == "float16" and device_type == "cuda")
        self.skipped_in_a_row = 0  # training steps skipped for non-finite gradients (step.py)

    @classmethod
    def choose(cls, setting: str, device: torch.device, amp: bool = True) -> "Precision":
        """"auto": bfloat16 on a CPU that has it, bfloat16 or float16 on CUDA (float32 without
        `amp`), float32 elsewhere; "float32" and "bfloat16" as asked."""
        kind = torch.device(device).type
        if setting == "auto":
            if kind == "cuda":
                setting = _cuda_low_precision(amp)
            else:
                setting = "bfloat16" if kind == "cpu" and cpu_has_bf16() else "float32"
        elif setting not in ("float32", "bfloat16"):
            raise ValueError(f"unknown precision {setting!r}: use auto, float32 or bfloat16")
        return cls(setting, kind)

    @property
    def enabled(self) -> bool:
        return self.name != "float32"

    def autocast(self):
        """The block's network computes in this format (a no-op for float32)."""
        return torch.autocast(self.device_type, dtype=self.dtype) if self.enabled else nullcontext()

    def __repr__(self) -> str:
        return f"Precision({self.name!r}, {self.device_type!r})"

"""Where torch runs: the device, and how many CPU threads it may use."""

from __future__ import annotations

from contextlib import contextmanager

import torch


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def choose_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU for "auto"; a named device must be available."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available: use 'auto' or 'cpu'")
    if name == "mps" and not _mps_available():
        raise ValueError("device 'mps' requested but Apple MPS is not available: use 'auto' or 'cpu'")
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda or mps")
    return torch.device(name)


@contextmanager
def torch_threads(n: int | None):
    """Run the block with `n` CPU threads for torch (None: as many as now), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(n or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)

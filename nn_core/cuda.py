"""``nn_core.cuda``: the CUDA queries PyTorch programs make before choosing a device.

This build has no CUDA backend: ``is_available()`` is False and ``device_count()`` 0, so
``device = "cuda" if nn_core.cuda.is_available() else "cpu"`` picks the CPU; calls that
need a GPU raise a RuntimeError saying so.
"""
from __future__ import annotations

_NO_CUDA = "this build of nn_core has no CUDA support (cpu only)"


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Seeds the CUDA generators: none here, so nothing to do (as PyTorch without a GPU)."""
    del seed


manual_seed_all = manual_seed


def _unavailable(name: str):
    def call(*args, **kwargs):
        raise RuntimeError(f"nn_core.cuda.{name}: {_NO_CUDA}")
    call.__name__ = name
    return call


synchronize = _unavailable("synchronize")
current_device = _unavailable("current_device")
set_device = _unavailable("set_device")
get_device_name = _unavailable("get_device_name")
memory_stats = _unavailable("memory_stats")
empty_cache = _unavailable("empty_cache")

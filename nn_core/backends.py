"""``nn_core.backends``: PyTorch's ``torch.backends`` switches that ported programs read or
set (``torch.backends.cudnn.benchmark = True``, ``torch.backends.mps.is_available()``).

This build runs on the CPU only: ``cudnn`` and ``mps`` report themselves unavailable and
their flags are plain attributes that change nothing; ``cpu.get_cpu_capability()`` names
the instruction set nn_core's kernels use (``backend_info()["isa"]``).
"""
from __future__ import annotations

import types

from . import _C


def _flags(name: str, doc: str, **attrs) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(**attrs)
    ns.is_available = lambda: False
    ns.__doc__ = doc
    ns.__name__ = f"{__name__}.{name}"
    return ns


cudnn = _flags("cudnn", "cuDNN: not in this build; the flags are kept and have no effect.",
               enabled=True, benchmark=False, deterministic=False, allow_tf32=True)
mps = _flags("mps", "Apple Metal: not in this build.")
mps.is_built = lambda: False
cuda = types.SimpleNamespace(is_built=lambda: False,
                             matmul=types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True))


class _Cpu:
    """The CPU backend: ``get_cpu_capability()`` is the ISA of the running kernels."""

    @staticmethod
    def get_cpu_capability() -> str:
        return str(_C.backend_info()["isa"]).upper()


cpu = _Cpu()

__all__ = ["cpu", "cuda", "cudnn", "mps"]

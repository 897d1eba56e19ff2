"""``nn_core.nn.parallel``: PyTorch's ``DataParallel`` / ``data_parallel`` import path.

nn_core runs one process on the CPU, where its kernels already use every core (see
``nn_core.set_num_threads``); with no accelerators to split a batch over, ``DataParallel``
runs the wrapped module directly, as PyTorch's does when no GPU is visible. It keeps
PyTorch's ``module.`` prefix in ``state_dict`` keys. Multi-process data parallelism (one
process per rank, gradients all-reduced over nn_core.distributed) is ``DistributedDataParallel``
in ``nn_core.nn.parallel.distributed``.
"""
from __future__ import annotations

from typing import Optional, Sequence

from ..module import Module


def _check_devices(device_ids, where: str) -> None:
    for d in device_ids or []:
        if str(d).split(":")[0] != "cpu":
            raise RuntimeError(f"{where}: device {d!r} is not available: this build of nn_core has only the cpu "
                               "device")


class DataParallel(Module):
    """Wraps ``module``; ``forward`` calls it (one CPU device: nothing to scatter)."""

    def __init__(self, module: Module, device_ids: Optional[Sequence] = None, output_device=None, dim: int = 0):
        super().__init__()
        _check_devices(device_ids, "DataParallel")
        self.module = module
        self.device_ids, self.output_device, self.dim = list(device_ids or []), output_device, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module: Module, inputs, device_ids=None, output_device=None, dim: int = 0, module_kwargs=None):
    """The functional form: ``module(*inputs, **module_kwargs)``."""
    _check_devices(device_ids, "data_parallel")
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return module(*inputs, **(module_kwargs or {}))


from .distributed import DistributedDataParallel  # noqa: E402

__all__ = ["DataParallel", "data_parallel", "DistributedDataParallel"]

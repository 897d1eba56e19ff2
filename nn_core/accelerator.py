"""``nn_core.accelerator``: PyTorch's device-agnostic accelerator queries
(``torch.accelerator.is_available()``, ``current_accelerator()``), used by recent
pytorch/examples programs to pick a device. This build has no accelerator: the answers
send such programs to the CPU.
"""
from __future__ import annotations


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def current_accelerator(check_available: bool = False):
    del check_available
    return None


def synchronize(device=None) -> None:
    raise RuntimeError("nn_core.accelerator.synchronize: this build of nn_core has no accelerator")

"""``nn_core.nn.modules``: PyTorch's import paths for layers (``torch.nn.modules`` and its
submodules such as ``torch.nn.modules.loss`` or ``torch.nn.modules.conv``), so code that
imports from them runs unchanged.

Every submodule name PyTorch has resolves to a module that exposes every ``nn_core.nn``
name (the layers live in differently named files here: ``from
nn_core.nn.modules.batchnorm import BatchNorm2d`` finds nn_core.nn.conv's class). Names
nn_core lacks raise AttributeError / ImportError naming the module.
"""
from __future__ import annotations

import sys
import types

from nn_core import nn as _nn
from nn_core.nn.loss import _Loss

_SUBMODULES = ("module", "container", "linear", "conv", "activation", "loss", "batchnorm", "normalization",
               "dropout", "sparse", "pooling", "flatten", "padding", "pixelshuffle", "upsampling", "rnn",
               "transformer", "distance", "fold", "channelshuffle", "adaptive", "instancenorm", "utils")


def _lookup(where: str):
    def __getattr__(name: str):
        if name == "_Loss":
            return _Loss
        try:
            return getattr(_nn, name)
        except AttributeError:
            raise AttributeError(f"module '{where}' has no attribute '{name}' (nn_core.nn has no such name)") from None
    return __getattr__


for _name in _SUBMODULES:
    _full = f"{__name__}.{_name}"
    _mod = types.ModuleType(_full, f"PyTorch's torch.nn.modules.{_name} import path; the names of nn_core.nn.")
    _mod.__getattr__ = _lookup(_full)
    sys.modules[_full] = _mod
    globals()[_name] = _mod

__getattr__ = _lookup(__name__)

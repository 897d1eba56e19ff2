"""``nn_core.nn``: modules (layers), parameters and containers."""
from .module import Identity, Module, ModuleDict, ModuleList, Parameter, Sequential

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity"]
from .conv import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, ConvTranspose2d,
                   GroupNorm, MaxPool2d)

__all__ += ["Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d",
            "BatchNorm2d", "GroupNorm"]

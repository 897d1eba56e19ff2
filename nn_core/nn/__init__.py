"""``nn_core.nn``: modules (layers), parameters and containers."""
from .module import Identity, Module, ModuleDict, ModuleList, Parameter, Sequential

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity"]

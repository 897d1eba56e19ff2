"""``nn_core.optim``: optimizers (updates in native fused kernels) and LR schedulers."""
from . import lr_scheduler
from .optimizer import Optimizer
from .optimizers import SGD, Adam, AdamW, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]

"""``nn_core.optim``: optimizers (updates in native fused kernels) and LR schedulers."""
from . import lr_scheduler
from .optimizer import Optimizer
from .lbfgs import LBFGS
from .optimizers import SGD, Adadelta, Adagrad, Adam, AdamW, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "LBFGS", "lr_scheduler"]

"""PyTorch's import paths under ``torch.utils``: ``nn_core.utils.data`` is ``nn_core.data``
(Dataset, TensorDataset, DataLoader, random_split, ...)."""
import sys as _sys

from .. import data

_sys.modules[__name__ + ".data"] = data
del _sys

__all__ = ["data"]

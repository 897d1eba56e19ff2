"""nn_core.runtime: the inference runtime and its built-in metrics (see metrics.py)."""
from . import metrics  # noqa: F401

"""nn_core.runtime: the inference runtime (``InferenceSession``: a model traced once into a
graph of native ops and run in C++) and its built-in metrics (see metrics.py)."""
from . import metrics  # noqa: F401
from .session import InferenceSession

__all__ = ["InferenceSession", "metrics"]

"""nn_core.runtime: the inference runtime (``InferenceSession``: a model traced once into a
graph of native ops and run in C++) and its built-in metrics (see metrics.py)."""
from . import metrics  # noqa: F401
from .session import InferenceSession
from .canary import Canary  # noqa: E402
from .monitoring import DriftProfile, TextCollector  # noqa: E402

__all__ = ["InferenceSession", "metrics", "Canary", "DriftProfile", "TextCollector"]

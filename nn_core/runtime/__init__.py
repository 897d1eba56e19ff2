"""nn_core.runtime — inference: a model traced once into a graph of native ops and run in
C++ (``InferenceSession``), with built-in latency / memory metrics."""
from .session import InferenceSession

__all__ = ["InferenceSession"]

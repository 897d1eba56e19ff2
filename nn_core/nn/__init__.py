"""``nn_core.nn``: modules (layers), parameters and containers."""
from .module import Identity, Module, ModuleDict, ModuleList, Parameter, Sequential
from .transformer import (Dropout, Embedding, LayerNorm, MultiheadAttention, RMSNorm, TransformerEncoder,
                          TransformerEncoderLayer)

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity",
           "Embedding", "LayerNorm", "RMSNorm", "Dropout", "MultiheadAttention", "TransformerEncoderLayer",
           "TransformerEncoder"]

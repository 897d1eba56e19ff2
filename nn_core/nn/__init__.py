"""``nn_core.nn``: modules (layers), parameters and containers."""
from .module import Identity, Module, ModuleDict, ModuleList, Parameter, Sequential
from .conv import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, ConvTranspose2d,
                   GroupNorm, MaxPool2d)
from .transformer import (Dropout, Embedding, LayerNorm, MultiheadAttention, RMSNorm, TransformerEncoder,
                          TransformerEncoderLayer)

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity",
           "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "GroupNorm",
           "Embedding", "LayerNorm", "RMSNorm", "Dropout", "MultiheadAttention", "TransformerEncoderLayer",
           "TransformerEncoder"]

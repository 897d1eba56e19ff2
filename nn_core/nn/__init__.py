"""``nn_core.nn``: modules (layers), parameters, containers, losses, init and utils."""
from . import init, utils
from .activation import GELU, Hardswish, LeakyReLU, LogSoftmax, Mish, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .conv import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, ConvTranspose2d,
                   GroupNorm, MaxPool2d)
from .linear import Dropout, Flatten, Linear, Unflatten
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .quantized import QuantizedConv2d, QuantizedLinear
from .module import Identity, Module, ModuleDict, ModuleList, Parameter, ParameterDict, ParameterList, Sequential
from .misc_layers import (CELU, ELU, PReLU, SELU, CosineSimilarity, EmbeddingBag, KLDivLoss,
                          PairwiseDistance)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .spatial import (AdaptiveAvgPool1d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d, ConstantPad1d,
                      ConstantPad2d, ConvTranspose1d, Fold, InstanceNorm1d, InstanceNorm2d, MaxPool1d, PixelShuffle,
                      PixelUnshuffle, ReflectionPad1d, ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, Unfold,
                      Upsample, UpsamplingBilinear2d, UpsamplingNearest2d, ZeroPad2d)
from .transformer import (Embedding, LayerNorm, MultiheadAttention, RMSNorm, TransformerEncoder,
                          TransformerEncoderLayer)
from .transformer_decoder import Transformer, TransformerDecoder, TransformerDecoderLayer

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Identity",
    "Linear", "Flatten", "Unflatten", "Dropout",
    "ReLU", "LeakyReLU", "GELU", "SiLU", "Hardswish", "Mish", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax",
    "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d",
    "BatchNorm2d", "GroupNorm",
    "Embedding", "LayerNorm", "RMSNorm", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
    "TransformerDecoderLayer", "TransformerDecoder", "Transformer",
    "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCEWithLogitsLoss", "BCELoss",
    "QuantizedLinear", "QuantizedConv2d",
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d",
    "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "PixelShuffle", "PixelUnshuffle",
    "Unfold", "Fold", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "ConvTranspose1d", "InstanceNorm1d",
    "InstanceNorm2d",
    "init", "utils",
    "ELU", "SELU", "CELU", "PReLU", "KLDivLoss", "CosineSimilarity", "PairwiseDistance", "EmbeddingBag",
    "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
]

# `import nn_core.nn.functional as F` (PyTorch's import path) is nn_core.functional.
import sys as _sys  # noqa: E402

from .. import functional  # noqa: E402
from . import modules, parallel  # noqa: E402  (PyTorch's import paths: nn.modules.*, nn.parallel)
from .parallel import DataParallel  # noqa: E402

_sys.modules[__name__ + ".functional"] = functional
del _sys

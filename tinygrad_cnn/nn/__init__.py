"""Neural-network building blocks: `Module`, `Buffer`, `Sequential`, `ModuleList`, the layers,
the loss modules, the initialisers and gradient clipping (`utils`)."""

from tinygrad_cnn.nn import init, utils
from tinygrad_cnn.nn.attention import MultiheadAttention
from tinygrad_cnn.nn.layers import (
    ELU,
    GELU,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Embedding,
    Flatten,
    GroupNorm,
    Hardtanh,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
    Upsample,
)
from tinygrad_cnn.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from tinygrad_cnn.nn.module import Buffer, IncompatibleKeys, Module, ModuleList, Sequential
from tinygrad_cnn.nn.recurrent import GRU, LSTM, RNN
from tinygrad_cnn.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = ["Module", "Buffer", "Sequential", "ModuleList", "Linear", "Conv2d", "ConvTranspose2d",
           "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "ReLU", "LeakyReLU", "PReLU",
           "ELU", "Hardtanh", "ReLU6", "Tanh", "Sigmoid", "Softplus", "GELU", "SiLU", "Softmax",
           "LogSoftmax", "Identity", "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
           "GroupNorm", "Embedding", "init",
           "Conv1d", "MaxPool1d", "AvgPool1d", "MaxUnpool1d", "MaxUnpool2d", "Upsample",
           "RNN", "LSTM", "GRU", "MultiheadAttention",
           "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
           "TransformerDecoder", "Transformer",
           "IncompatibleKeys", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss",
           "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "KLDivLoss", "utils"]

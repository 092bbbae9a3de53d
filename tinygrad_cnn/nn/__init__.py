"""Neural-network building blocks: `Module`, `Buffer`, `Sequential`, `ModuleList`, the layers,
the loss modules, the initialisers and gradient clipping (`utils`)."""

from tinygrad_cnn.nn import init, utils
from tinygrad_cnn.nn.layers import (
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
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

__all__ = ["Module", "Buffer", "Sequential", "ModuleList", "Linear", "Conv2d", "ConvTranspose2d",
           "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "ReLU", "LeakyReLU", "Tanh",
           "Sigmoid", "GELU", "SiLU", "Softmax", "LogSoftmax", "Identity",
           "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Embedding", "init",
           "IncompatibleKeys", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss",
           "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "KLDivLoss", "utils"]

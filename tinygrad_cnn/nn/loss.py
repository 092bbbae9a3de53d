"""The losses as modules, as PyTorch has them beside its functions: `criterion =
nn.CrossEntropyLoss(); loss = criterion(logits, target)`. Each holds its `reduction` (and
settings such as beta) and calls its op in tinygrad_cnn.ops, where the forward and backward
rules are."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.nn.module import Buffer, Module
from tinygrad_cnn.ops.loss import (
    KL_REDUCTIONS,
    REDUCTIONS,
    check_beta,
    check_delta,
    check_ignore_index,
    check_label_smoothing,
    check_reduction,
    check_weight,
)


class _Loss(Module):
    """A loss with a `reduction`: "mean" (the default), "sum" or "none" (one loss each)."""

    reductions = REDUCTIONS

    def __init__(self, reduction: str = "mean"):
        check_reduction(type(self).__name__, reduction, self.reductions)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return ", ".join(self._settings())

    def _settings(self) -> list[str]:
        """The settings that differ from their defaults, as keyword=value texts."""
        return [] if self.reduction == "mean" else [f"reduction={self.reduction!r}"]


def weight_buffer(layer: str, weight, name: str = "weight") -> Buffer | None:
    """A loss's constant weight as a buffer (in state_dict, as PyTorch's), float32 when given
    as integers (PyTorch's default float dtype, so that its state dicts load); None stays
    None."""
    check_weight(layer, weight, name)
    if weight is None:
        return None
    weight = Buffer(weight)
    if weight.data.dtype.kind != "f":
        weight.data = weight.data.astype(np.float32)
    return weight


class CrossEntropyLoss(_Loss):
    """Cross-entropy of softmax(logits) against class ids or probabilities: logits (N, K),
    (N, K, d1, ...) or (K,), as ops.cross_entropy, with its weight (a buffer), ignore_index and
    label_smoothing."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        self.weight = weight_buffer("CrossEntropyLoss", weight)
        super().__init__(reduction)
        check_ignore_index("CrossEntropyLoss", ignore_index)
        check_label_smoothing("CrossEntropyLoss", label_smoothing)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, logits, target):
        return ops.cross_entropy(logits, target, self.reduction, weight=self.weight,
                                 ignore_index=self.ignore_index,
                                 label_smoothing=self.label_smoothing)

    def _settings(self) -> list[str]:
        return (super()._settings()
                + ([] if self.ignore_index == -100 else [f"ignore_index={self.ignore_index}"])
                + ([] if self.label_smoothing == 0.0 else
                   [f"label_smoothing={self.label_smoothing}"]))


class NLLLoss(_Loss):
    """-weight[y] log_probs[y] for class ids y: log_probs (N, K), (N, K, d1, ...) or (K,), e.g.
    from log_softmax, as ops.nll_loss, with its weight (a buffer) and ignore_index."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean"):
        self.weight = weight_buffer("NLLLoss", weight)
        super().__init__(reduction)
        check_ignore_index("NLLLoss", ignore_index)
        self.ignore_index = ignore_index

    def forward(self, log_probs, target):
        return ops.nll_loss(log_probs, target, self.reduction, weight=self.weight,
                            ignore_index=self.ignore_index)

    def _settings(self) -> list[str]:
        return super()._settings() + ([] if self.ignore_index == -100 else
                                      [f"ignore_index={self.ignore_index}"])


class MSELoss(_Loss):
    """(input - target)^2, input and target of one shape, as ops.mse_loss."""

    def forward(self, input, target):
        return ops.mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], logits and target of
    one shape, as ops.binary_cross_entropy_with_logits, with its weight and pos_weight
    (buffers, as PyTorch's)."""

    def __init__(self, weight=None, *, reduction: str = "mean", pos_weight=None):
        self.weight = weight_buffer("BCEWithLogitsLoss", weight)
        self.pos_weight = weight_buffer("BCEWithLogitsLoss", pos_weight, "pos_weight")
        super().__init__(reduction)

    def forward(self, logits, target):
        return ops.binary_cross_entropy_with_logits(logits, target, self.reduction,
                                                    weight=self.weight,
                                                    pos_weight=self.pos_weight)


class L1Loss(_Loss):
    """|input - target|, input and target of one shape, as ops.l1_loss."""

    def forward(self, input, target):
        return ops.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """d^2 / (2 beta) for |d| < beta, else |d| - beta / 2, with d = input - target of one
    shape, as ops.smooth_l1_loss."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        check_beta("SmoothL1Loss", beta)
        self.beta = beta

    def forward(self, input, target):
        return ops.smooth_l1_loss(input, target, self.reduction, self.beta)

    def _settings(self) -> list[str]:
        return super()._settings() + ([] if self.beta == 1.0 else [f"beta={self.beta}"])


class HuberLoss(_Loss):
    """d^2 / 2 for |d| < delta, else delta (|d| - delta / 2), with d = input - target of one
    shape, as ops.huber_loss."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        check_delta("HuberLoss", delta)
        self.delta = delta

    def forward(self, input, target):
        return ops.huber_loss(input, target, self.reduction, self.delta)

    def _settings(self) -> list[str]:
        return super()._settings() + ([] if self.delta == 1.0 else [f"delta={self.delta}"])


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities input against targets, both in [0, 1] and of one
    shape, as ops.binary_cross_entropy; weight, if given, is a buffer (in state_dict), float32
    when given as integers (PyTorch's default float dtype, so that its state dicts load)."""

    def __init__(self, weight=None, reduction: str = "mean"):
        self.weight = weight_buffer("BCELoss", weight)
        super().__init__(reduction)

    def forward(self, input, target):
        return ops.binary_cross_entropy(input, target, self.weight, self.reduction)


class KLDivLoss(_Loss):
    """KL divergence terms target (log target - input) of log-probabilities input, as
    ops.kl_div; reduction "batchmean" gives the KL divergence per sample."""

    reductions = KL_REDUCTIONS

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return ops.kl_div(input, target, self.reduction, self.log_target)

    def _settings(self) -> list[str]:
        return super()._settings() + (["log_target=True"] if self.log_target else [])

"""The losses as modules, as PyTorch has them beside its functions: `criterion =
nn.CrossEntropyLoss(); loss = criterion(logits, target)`. Each holds its `reduction` and calls
the op of the same name in tinygrad_cnn.ops, where the forward and backward rules are."""

from __future__ import annotations

from tinygrad_cnn import ops
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.ops.loss import check_reduction


class _Loss(Module):
    """A loss with a `reduction`: "mean" (the default), "sum" or "none" (one loss each)."""

    def __init__(self, reduction: str = "mean"):
        check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Cross-entropy of softmax(logits) against class ids: logits (N, K), target (N,) of ints
    in [0, K), as ops.cross_entropy."""

    def forward(self, logits, target):
        return ops.cross_entropy(logits, target, self.reduction)


class NLLLoss(_Loss):
    """-log_probs[n, target[n]]: log_probs (N, K), e.g. from log_softmax, target (N,) of ints
    in [0, K), as ops.nll_loss."""

    def forward(self, log_probs, target):
        return ops.nll_loss(log_probs, target, self.reduction)


class MSELoss(_Loss):
    """(input - target)^2, input and target of one shape, as ops.mse_loss."""

    def forward(self, input, target):
        return ops.mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], logits and target of
    one shape, as ops.binary_cross_entropy_with_logits."""

    def forward(self, logits, target):
        return ops.binary_cross_entropy_with_logits(logits, target, self.reduction)

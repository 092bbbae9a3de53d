"""The losses as modules, as PyTorch has them beside its functions: `criterion =
nn.CrossEntropyLoss(); loss = criterion(logits, target)`. Each holds its `reduction` (and
settings such as beta) and calls its op in tinygrad_cnn.ops, where the forward and backward
rules are."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.nn.module import Buffer, Module
from tinygrad_cnn.ops.distance import check_p
from tinygrad_cnn.ops.loss import (
    KL_REDUCTIONS,
    REDUCTIONS,
    check_beta,
    check_delta,
    check_eps,
    check_ignore_index,
    check_label_smoothing,
    check_margin,
    check_multi_margin_p,
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


class MarginRankingLoss(_Loss):
    """max(0, -target (input1 - input2) + margin) for targets 1 and -1, as
    ops.margin_ranking_loss; forward(input1, input2, target)."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        check_margin("MarginRankingLoss", margin)
        self.margin = margin

    def forward(self, input1, input2, target):
        return ops.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)

    def _settings(self) -> list[str]:
        return super()._settings() + ([] if self.margin == 0.0 else [f"margin={self.margin}"])


class HingeEmbeddingLoss(_Loss):
    """input where target = 1, max(0, margin - input) where target = -1, as
    ops.hinge_embedding_loss."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        check_margin("HingeEmbeddingLoss", margin)
        self.margin = margin

    def forward(self, input, target):
        return ops.hinge_embedding_loss(input, target, self.margin, self.reduction)

    def _settings(self) -> list[str]:
        return super()._settings() + ([] if self.margin == 1.0 else [f"margin={self.margin}"])


class SoftMarginLoss(_Loss):
    """log(1 + e^(-target input)) for targets 1 and -1, as ops.soft_margin_loss."""

    def forward(self, input, target):
        return ops.soft_margin_loss(input, target, self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) where target = 1, max(0, cos(x1, x2) - margin) where target = -1, per
    pair of rows, as ops.cosine_embedding_loss; forward(input1, input2, target)."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        check_margin("CosineEmbeddingLoss", margin)
        self.margin = margin

    def forward(self, input1, input2, target):
        return ops.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)

    def _settings(self) -> list[str]:
        return super()._settings() + ([] if self.margin == 0.0 else [f"margin={self.margin}"])


class TripletMarginLoss(_Loss):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with the p-norm distance, as
    ops.triplet_margin_loss; forward(anchor, positive, negative)."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, reduction: str = "mean"):
        super().__init__(reduction)
        check_margin("TripletMarginLoss", margin, positive=True)
        check_p("TripletMarginLoss", p)
        check_eps("TripletMarginLoss", eps)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return ops.triplet_margin_loss(anchor, positive, negative, self.margin, self.p,
                                       self.eps, self.swap, self.reduction)

    def _settings(self) -> list[str]:
        return (super()._settings()
                + ([] if self.margin == 1.0 else [f"margin={self.margin}"])
                + ([] if self.p == 2.0 else [f"p={self.p}"])
                + ([] if self.eps == 1e-6 else [f"eps={self.eps}"])
                + (["swap=True"] if self.swap else []))


class MultiLabelSoftMarginLoss(_Loss):
    """The mean over C labels of the binary cross-entropy of sigmoid(input) against targets in
    [0, 1], as ops.multilabel_soft_margin_loss; weight, if given, is a buffer (in state_dict)."""

    def __init__(self, weight=None, reduction: str = "mean"):
        self.weight = weight_buffer("MultiLabelSoftMarginLoss", weight)
        super().__init__(reduction)

    def forward(self, input, target):
        return ops.multilabel_soft_margin_loss(input, target, self.weight, self.reduction)


class MultiMarginLoss(_Loss):
    """The multi-class hinge loss w_y / C sum over i != y of max(0, margin - x_y + x_i)^p, as
    ops.multi_margin_loss; weight, if given, is a buffer (in state_dict)."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"):
        self.weight = weight_buffer("MultiMarginLoss", weight)
        super().__init__(reduction)
        check_multi_margin_p("MultiMarginLoss", p)
        check_margin("MultiMarginLoss", margin)
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return ops.multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                     self.reduction)

    def _settings(self) -> list[str]:
        return (super()._settings() + ([] if self.p == 1 else [f"p={self.p}"])
                + ([] if self.margin == 1.0 else [f"margin={self.margin}"]))


class PoissonNLLLoss(_Loss):
    """The Poisson negative log-likelihood of counts target under the rate input (a log-rate
    with log_input=True), as ops.poisson_nll_loss."""

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                 reduction: str = "mean"):
        super().__init__(reduction)
        check_eps("PoissonNLLLoss", eps)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return ops.poisson_nll_loss(log_input, target, self.log_input, self.full, self.eps,
                                    self.reduction)

    def _settings(self) -> list[str]:
        return (super()._settings() + ([] if self.log_input else ["log_input=False"])
                + (["full=True"] if self.full else [])
                + ([] if self.eps == 1e-8 else [f"eps={self.eps}"]))


class GaussianNLLLoss(_Loss):
    """The Gaussian negative log-likelihood (log v + (input - target)^2 / v) / 2 of target under
    the mean input and the variance var, as ops.gaussian_nll_loss; forward(input, target,
    var)."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        check_eps("GaussianNLLLoss", eps)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return ops.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)

    def _settings(self) -> list[str]:
        return (super()._settings() + (["full=True"] if self.full else [])
                + ([] if self.eps == 1e-6 else [f"eps={self.eps}"]))

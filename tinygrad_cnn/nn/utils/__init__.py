"""Helpers around the layers, as `torch.nn.utils`: gradient clipping (`clip_grad_norm_`,
`clip_grad_value_`) and, in `rnn`, packed variable-length sequences for RNN, LSTM and GRU."""

from tinygrad_cnn.nn.utils import rnn
from tinygrad_cnn.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "rnn"]

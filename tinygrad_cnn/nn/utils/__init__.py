"""Helpers around the layers, as `torch.nn.utils`: gradient clipping (`clip_grad_norm_`,
`clip_grad_value_`), the parameters as one vector and back (`parameters_to_vector`,
`vector_to_parameters`) and, in `rnn`, packed variable-length sequences for RNN, LSTM and GRU."""

from tinygrad_cnn.nn.utils import rnn
from tinygrad_cnn.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from tinygrad_cnn.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "rnn",
           "vector_to_parameters"]

"""tg.reference: the course's hand-derived numpy backprop (MLP, CNN), the baseline of the tests.

The MLP of Course 2 (mlp.py, optim.py) and the RNN/LSTM of Course 5 week 1 (rnn.py).

>>> import numpy as np
>>> from tinygrad_c2 import reference
>>> net = reference.MLP.initialize([3, 4, 2], output="softmax", rng=np.random.default_rng(0))
>>> J, grads = net.loss_and_grads(np.ones((5, 3)), np.array([0, 1, 0, 1, 1]))
>>> round(J, 4) > 0, list(grads)
(True, ['dW1', 'db1', 'dW2', 'db2'])
"""

from tinygrad_c2.reference.cnn import (
    ConvNet,
    conv_backward,
    conv_backward_fast,
    conv_forward,
    conv_forward_fast,
    conv_single_step,
    create_mask_from_window,
    distribute_value,
    from_torch_layout,
    pool_backward,
    pool_backward_fast,
    pool_forward,
    pool_forward_fast,
    to_torch_layout,
    zero_pad,
)
from tinygrad_c2.reference.convert import from_model, to_model
from tinygrad_c2.reference.mlp import (
    MLP,
    batchnorm_backward,
    batchnorm_forward,
    dropout_mask,
    sigmoid,
)
from tinygrad_c2.reference.optim import GD, Adam, Momentum, RMSprop
from tinygrad_c2.reference.rnn import (
    clip,
    lstm_backward,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_forward,
    rnn_backward,
    rnn_cell_backward,
    rnn_cell_forward,
    rnn_forward,
    to_torch_lstm,
    to_torch_rnn,
)

__all__ = [
    "MLP",
    "GD",
    "Momentum",
    "RMSprop",
    "Adam",
    "from_model",
    "to_model",
    "dropout_mask",
    "sigmoid",
    "batchnorm_forward",
    "batchnorm_backward",
    "zero_pad",
    "conv_single_step",
    "conv_forward",
    "conv_backward",
    "pool_forward",
    "pool_backward",
    "create_mask_from_window",
    "distribute_value",
    "conv_forward_fast",
    "conv_backward_fast",
    "pool_forward_fast",
    "pool_backward_fast",
    "to_torch_layout",
    "from_torch_layout",
    "ConvNet",
    "rnn_cell_forward",
    "rnn_forward",
    "rnn_cell_backward",
    "rnn_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "lstm_cell_backward",
    "lstm_backward",
    "clip",
    "to_torch_rnn",
    "to_torch_lstm",
]

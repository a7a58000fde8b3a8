"""tg.nn.functional: the F.* forms, one family a file (activation, linear, conv, pooling, padding,
dropout, norm, layer_norm, loss, sparse, recurrent), each beside the fused primitive it
calls (one graph node, closed-form backward)."""

from .activation import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from .conv import conv1d, conv2d, conv_transpose2d, fold, unfold
from .dropout import dropout, dropout2d
from .layer_norm import layer_norm
from .linear import linear
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from .norm import batch_norm
from .padding import pad
from .pooling import (
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from .sparse import embedding, one_hot

__all__ = [
    "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "conv1d", "conv2d", "conv_transpose2d", "cross_entropy",
    "dropout", "dropout2d", "elu", "embedding", "fold", "gelu", "hardtanh", "huber_loss",
    "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax", "max_pool1d",
    "max_pool2d", "mse_loss", "nll_loss", "one_hot", "pad", "relu", "sigmoid", "silu",
    "smooth_l1_loss", "softmax", "softplus", "tanh", "unfold",
]


def __getattr__(name: str) -> object:
    """Only for a name lookup did not find: it explains itself (see tinygrad_c2/_missing.py)."""
    from tinygrad_c2._missing import module_getattr  # here, so dir() gains no name

    return module_getattr(__name__, name)

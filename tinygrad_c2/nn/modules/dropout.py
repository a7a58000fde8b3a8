"""Dropout and Dropout2d: inverted dropout in training mode, the identity in eval mode."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .module import Module


class Dropout(Module):
    """Inverted dropout: zero each element with probability `p`, scale the rest by 1/(1-p).

    `p` is the DROP probability (PyTorch's meaning). The course's `keep_prob` is `1 - p`:
    the course's keep_prob = 0.8 is `Dropout(p=0.2)`. Dividing by keep_prob during training
    keeps each activation's expected value, so at evaluation time (`model.eval()`) the layer
    is the identity and needs no rescaling. NOTE: the course notes' "dropout is only used
    for the test set" is a slip: dropout runs during training only. The same mask zeroes
    the gradient in backward (the course's "apply the mask to dA").

    >>> layer = Dropout(p=0.2).eval(); layer(Tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p (drop probability) must be in [0, 1], "
                             f"got {p!r}")
        self.p = float(p)
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Channel dropout: zero each whole channel of (N, C, H, W) or (C, H, W) input with
    probability `p` and scale the kept channels by 1/(1-p); the identity in eval mode.
    Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels
    regularizes little; dropping a whole map does (Tompson et al., 2015).

    >>> layer = Dropout2d(p=0.5).eval(); layer(Tensor([[[[1.0]]]])).tolist()
    [[[[1.0]]]]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout2d(x, self.p, self.training)

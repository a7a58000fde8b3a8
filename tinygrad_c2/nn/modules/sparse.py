"""Embedding: a lookup table of learnable vectors indexed by integers (PyTorch's nn.Embedding)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..functional.sparse import _padding_index
from ..parameter import Parameter
from .module import Module
from .utils import _check_device, _float_dtype


class Embedding(Module):
    """weight (num_embeddings, embedding_dim) drawn from N(0, 1), the padding_idx row zeroed;
    `forward(indices)` returns weight[indices] (shape indices.shape + (embedding_dim,)).

    The padding row gets no gradient, so it stays as it is (zeros unless set otherwise).
    `max_norm` renormalizes looked-up rows in place; `sparse=True` is not implemented.

    >>> import tinygrad_c2 as tg
    >>> emb = Embedding(10, 3, padding_idx=0)
    >>> emb(tg.tensor([[1, 0, 4]])).shape, emb.weight[0].tolist()
    ((1, 3, 3), [0.0, 0.0, 0.0])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Any = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        _check_device(device, "Embedding")
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Embedding: {name} must be a non-negative int, got {value!r}")
        if sparse:
            raise NotImplementedError("Embedding: sparse=True (a sparse gradient) is not "
                                      "implemented; sparse=False gives the same gradient, dense")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = (None if padding_idx is None
                            else _padding_index(padding_idx, self.num_embeddings))
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            dtype = _float_dtype(dtype, "Embedding")
            self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(_weight.shape)}, which "
                                 f"does not match num_embeddings and embedding_dim "
                                 f"({self.num_embeddings}, {self.embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """N(0, 1) for every row, then the padding row zeroed (PyTorch's init)."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is `embeddings` (2-D, shared, not copied); frozen
        (requires_grad=False) unless freeze=False. The padding row is not zeroed.

        >>> import tinygrad_c2 as tg
        >>> emb = Embedding.from_pretrained(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
        >>> emb(tg.tensor([1])).tolist(), emb.weight.requires_grad
        ([[3.0, 4.0]], False)
        """
        shape = tuple(getattr(embeddings, "shape", np.shape(embeddings)))
        if len(shape) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings parameter is expected to be "
                             f"2-dimensional, got shape {shape}")
        return cls(shape[0], shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq,
                   sparse, _weight=embeddings, _freeze=freeze)

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s

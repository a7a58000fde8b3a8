"""parameters_to_vector / vector_to_parameters: all parameters as one flat vector and back."""

from __future__ import annotations

from collections.abc import Iterable

from ...function import OpError
from ...tensor import Tensor, cat


def _check_params(parameters: Iterable[Tensor] | Tensor, op: str) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected an iterable of Tensors, got {type(p).__name__} at "
                            f"position {i}")
    return params


def parameters_to_vector(parameters: Iterable[Tensor] | Tensor) -> Tensor:
    """Flatten and concatenate the parameters into one vector (differentiable, as in PyTorch).

    >>> import numpy as np
    >>> from tinygrad_c2 import nn
    >>> parameters_to_vector(nn.Linear(3, 2).parameters()).shape
    (8,)
    """
    params = _check_params(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    dtypes = {p.dtype for p in params}
    if len(dtypes) > 1:
        raise TypeError(f"parameters_to_vector: the parameters have different dtypes "
                        f"{sorted(map(str, dtypes))}; convert the model first (model.double())")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor] | Tensor) -> None:
    """Copy consecutive slices of `vec` into the parameters' values (in place, no graph).

    >>> import numpy as np, tinygrad_c2 as tg
    >>> from tinygrad_c2 import nn
    >>> layer = nn.Linear(2, 1)
    >>> vector_to_parameters(tg.tensor([1.0, 2.0, 3.0]), layer.parameters())
    >>> layer.weight.tolist(), layer.bias.tolist()
    ([[1.0, 2.0]], [3.0])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, but got "
                        f"{type(vec).__name__}")
    params = _check_params(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise OpError(f"vector_to_parameters: vec has shape {vec.shape}, expected ({total},) "
                         "for these parameters")
    values = vec.numpy()
    offset = 0
    for p in params:
        n = p.numel()
        # NOTE: written into the parameter's own array, so optimizers holding it see the values
        p.numpy()[...] = values[offset:offset + n].reshape(p.shape)
        offset += n

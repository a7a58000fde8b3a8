"""DataParallel: torch's wrapper, which on the CPU runs the wrapped module unchanged."""

from __future__ import annotations

from typing import Any

from ..modules.module import Module


class DataParallel(Module):
    """Runs `module` as it is: with no GPU there is nothing to replicate (torch does the same
    on a CPU-only machine: `device_ids` is then ignored and becomes []). The module is the
    attribute `.module`, so parameter and state_dict names get torch's "module." prefix.

    >>> import tinygrad_c2 as tg
    >>> model = tg.nn.DataParallel(tg.nn.Linear(2, 1))
    >>> list(model.state_dict()), model(tg.ones(3, 2)).shape
    (['module.weight', 'module.bias'], (3, 1))
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected an nn.Module, got {type(module).__name__}")
        self.module = module
        self.device_ids: list[int] = []
        self.output_device = None
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)

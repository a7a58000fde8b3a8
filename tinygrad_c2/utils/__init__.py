"""PyTorch's `torch.utils` namespace: `tinygrad_c2.utils.data` (data sets, samplers, DataLoader)."""

from . import data

__all__ = ["data"]


def __getattr__(name: str) -> object:
    """Only for a name lookup did not find: it explains itself (see tinygrad_c2/_missing.py)."""
    from tinygrad_c2._missing import module_getattr  # here, so dir() gains no name

    return module_getattr(__name__, name)

"""PyTorch's `torch.utils` namespace: `tinygrad_c2.utils.data` (data sets, samplers, DataLoader)."""

from . import data

__all__ = ["data"]

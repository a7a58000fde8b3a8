"""tg.nn.parallel: PyTorch's multi-device wrappers on a CPU-only library. DataParallel passes
through to its module (as torch's does when no GPU is present); DistributedDataParallel
refuses with a clear error (there is one process and no process group)."""

from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]

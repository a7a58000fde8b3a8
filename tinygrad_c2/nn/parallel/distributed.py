"""DistributedDataParallel: not available (one process, no process group); a clear error."""

from __future__ import annotations

from typing import Any

from ...device import CPU_ONLY


class DistributedDataParallel:
    """Refuses: distributed training needs several processes and a process group, which
    tinygrad_c2 does not have. Use the model itself (or DataParallel, a pass-through)."""

    def __init__(self, module: Any = None, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("DistributedDataParallel: tinygrad_c2 trains in one process "
                           f"(no process group); use the model itself. {CPU_ONLY}")

"""Devices, for PyTorch scripts: the one device here is the CPU (numpy), so `tg.device("cpu")`,
`.to("cpu")`, `device=` keywords and `tg.cuda.is_available()` work unchanged, and asking for
an accelerator raises a clear error instead of something failing deep inside numpy.

>>> import tinygrad_c2 as tg
>>> tg.device("cpu"), str(tg.device("cpu:0")), tg.cuda.is_available()
(device(type='cpu'), 'cpu:0', False)
"""

from __future__ import annotations

from typing import Any

CPU_ONLY = "tinygrad_c2 runs on numpy on the CPU only: use 'cpu' or leave the device code out"

# PyTorch's device type names: any of these as a device means an accelerator we do not have.
# A string outside this set (and not "cpu") is not a device at all, so Tensor.to reads it as
# a dtype name ("float64").
ACCELERATORS = frozenset({
    "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
    "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone",
})

builtin_type = type  # the class below takes a parameter named `type`, as torch.device does


class device:  # noqa: N801 (PyTorch's name)
    """A device as PyTorch spells it; only the CPU exists. Like torch, `device("cpu")` has
    index None and differs from `device("cpu", 0)` (printed "cpu:0"); both mean the CPU.

    >>> import tinygrad_c2 as tg
    >>> d = tg.device("cpu", 0); d.type, d.index, d == tg.device("cpu:0"), d == tg.device("cpu")
    ('cpu', 0, True, False)
    """

    __slots__ = ("_index",)

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002 (torch's name)
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device: give an index only with a type string, not a device")
            self._index = type._index
            return
        if _is_torch_device(type):
            type = str(type)  # a torch.device: its spelling ("cpu", "cuda:0") says it all
        if not isinstance(type, str):
            if isinstance(type, int) and not isinstance(type, bool):  # torch: an int is cuda:N
                raise RuntimeError(f"device: {type!r} means the GPU 'cuda:{type}'; {CPU_ONLY}")
            raise TypeError(f"device: expected a string such as 'cpu', got "
                            f"{type!r} ({builtin_type(type).__name__})")
        name, colon, number = type.partition(":")
        if name != "cpu":
            if name in ACCELERATORS:
                raise RuntimeError(f"device: {type!r} is not available; {CPU_ONLY}")
            raise RuntimeError(f"device: {type!r} is not a device; expected 'cpu'")
        if colon:
            if index is not None:
                raise RuntimeError(f"device: {type!r} already has an index; do not pass index")
            if not number.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}")
            index = int(number)
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)
                                  or index < 0):
            raise RuntimeError(f"device: the index must be a non-negative int, got {index!r}")
        self._index = index

    @property
    def type(self) -> str:
        return "cpu"

    @property
    def index(self) -> int | None:
        return self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, device) and other._index == self._index

    def __hash__(self) -> int:
        return hash(("cpu", self._index))

    def __repr__(self) -> str:
        if self._index is None:
            return "device(type='cpu')"
        return f"device(type='cpu', index={self._index})"

    def __str__(self) -> str:
        return "cpu" if self._index is None else f"cpu:{self._index}"


def _is_torch_device(value: Any) -> bool:
    """A torch.device, recognised without importing torch."""
    cls = type(value)
    return cls.__name__ == "device" and cls.__module__ == "torch"


CPU = device("cpu")  # every tensor's .device: one shared instance


def is_device(value: Any) -> bool:
    """Whether `value` is meant as a device (a device, an int, or a device-type string), as
    opposed to a dtype; Tensor.to takes either in its first place."""
    if isinstance(value, device) or _is_torch_device(value):
        return True
    if isinstance(value, str):
        name = value.partition(":")[0]
        return name == "cpu" or name in ACCELERATORS
    return isinstance(value, int) and not isinstance(value, bool)


def check(value: Any, where: str) -> device:
    """The CPU device `value` names (None means the CPU), or a clear error naming `where`."""
    if value is None or value is CPU:
        return CPU
    try:
        return device(value)
    except (RuntimeError, TypeError) as e:
        raise builtin_type(e)(f"{where}: {str(e).removeprefix('device: ')}") from None


_default = CPU


def set_default_device(value: Any) -> None:
    """PyTorch's torch.set_default_device: "cpu" (or None) is accepted, anything else refused."""
    global _default
    _default = check(value, "set_default_device")


def get_default_device() -> device:
    return _default


class _NoAccelerator:
    """What every accelerator namespace answers here: not available, no devices."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0


class _Cuda(_NoAccelerator):
    """`tg.cuda`: no GPU here. The queries answer "none", the seeding calls are no-ops (the
    library generator, `tg.manual_seed`, seeds everything), anything needing a GPU raises."""

    @staticmethod
    def manual_seed(seed: int) -> None:
        """A no-op: there is no GPU generator (tg.manual_seed seeds the CPU one)."""

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        """A no-op: there is no GPU generator (tg.manual_seed seeds the CPU one)."""

    @staticmethod
    def current_device() -> int:
        raise RuntimeError(f"cuda.current_device: no GPU; {CPU_ONLY}")

    def __repr__(self) -> str:
        return "<tinygrad_c2.cuda: no GPU (numpy on the CPU)>"


class _Mps(_NoAccelerator):
    """`tg.backends.mps`: not available, not built."""

    @staticmethod
    def is_built() -> bool:
        return False


class _Cudnn(_NoAccelerator):
    """`tg.backends.cudnn`: PyTorch's flags, settable and without effect (numpy on the CPU is
    deterministic, so `deterministic = True` already holds)."""

    def __init__(self) -> None:
        self.deterministic = False
        self.benchmark = False
        self.enabled = True


class _Backends:
    """`tg.backends`: `mps` and `cudnn`, as in PyTorch."""

    def __init__(self) -> None:
        self.mps = _Mps()
        self.cudnn = _Cudnn()


class _Accelerator(_NoAccelerator):
    """`tg.accelerator`: none is available."""

    @staticmethod
    def current_accelerator() -> None:
        return None


cuda = _Cuda()
backends = _Backends()
accelerator = _Accelerator()

"""A missing name explains itself: the AttributeError for `tg.foo`, `nn.Foo`, `F.foo`.

Each public namespace ends with a PEP 562 module `__getattr__` that Python consults only after
normal lookup failed, so nothing here can shadow a real name. The message says the name is not
part of tinygrad_c2 and, where one exists, what to use instead (the HINTS table below: the
PyTorch names people reach for that are not here yet) and the close spellings that are here.

`Tensor.foo` explains itself the same way for the PyTorch Tensor names in HINTS["Tensor"]:
each is bound on the class as a `MissingAttribute` descriptor that raises when read. Any other
missing Tensor attribute keeps Python's own error, whose traceback suggests close spellings.

NOTE: Tensor has no `__getattr__`, on purpose. Defining one makes CPython 3.11 route every
Tensor attribute read through slot_tp_getattr_hook and switches off its specialised slot and
property reads: measured with benchmarks/bench_tensor_getattr.py, `t._data` reads take 1.8x
as long and a tiny MLP training step runs 3.3% more instructions (callgrind: 628.6k against
608.5k per step). A descriptor costs nothing on any other read. A module `__getattr__` also
unspecialises lookups such as `F.relu` (about 60 ns more each), which is 0.1% of the
instructions of a small training step (callgrind, 3.11).

>>> import tinygrad_c2 as tg
>>> try:
...     tg.zero
... except AttributeError as error:
...     print(error)
module 'tinygrad_c2' has no attribute 'zero': it is not part of tinygrad_c2; did you mean 'zeros'?
>>> try:
...     tg.zeros(2).pin_memory()
... except AttributeError as error:
...     print(error)
'Tensor' object has no attribute 'pin_memory': it is not part of tinygrad_c2; tinygrad_c2 runs ...
"""

from __future__ import annotations

import difflib
import dis
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

_CPU = "tinygrad_c2 runs on numpy on the CPU only: leave the device code out"
_BFLOAT16 = "bfloat16 is not supported: use tg.float32 or tg.float64"
# A hint starting with "planned" reads "it is not yet in tinygrad_c2 (planned: ...)".
_SEQUENCE = "planned: sequence-model layers"
_ARRAY = "use .numpy(), a numpy array sharing the tensor's memory"

# NOTE: a key here must never be a real attribute of its namespace; tests/test_missing.py
# fails once one becomes real, and then its hint is deleted here. "Tensor" holds the Tensor
# attributes; every other key is a module.
HINTS: dict[str, dict[str, str]] = {
    "Tensor": {
        "bfloat16": _BFLOAT16,
        "pin_memory": _CPU,
        "share_memory_": "tinygrad_c2 runs in one process; hand a worker the array (.numpy())",
        "to_sparse": "there are no sparse tensors: keep the dense one",
        "register_hook": "there are no gradient hooks: call retain_grad() and read .grad after "
                         "backward, or use tg.autograd.grad",
        "storage": _ARRAY,
        "untyped_storage": _ARRAY,
        "data_ptr": _ARRAY,
        "storage_offset": _ARRAY,
        "stride": "use .numpy().strides (numpy counts bytes where PyTorch counts elements)",
        "as_strided": "use numpy.lib.stride_tricks on .numpy() (no gradient flows through it)",
        "apply_": "apply the function to .numpy() under no_grad (no gradient flows through it)",
        "map_": "apply the function to .numpy() under no_grad (no gradient flows through it)",
    },
    "tinygrad_c2": {
        "mps": _CPU,
        "bfloat16": _BFLOAT16,
        "compile": "use tg.capture(step) to trace a training step once and replay it",
        "FloatTensor": "use tg.tensor(data, dtype=tg.float32) (the legacy typed constructors "
                       "are not here)",
        "DoubleTensor": "use tg.tensor(data, dtype=tg.float64)",
        "LongTensor": "use tg.tensor(data, dtype=tg.int64)",
        "IntTensor": "use tg.tensor(data, dtype=tg.int32)",
        "BoolTensor": "use tg.tensor(data, dtype=bool)",
        "jit": "use tg.capture(step) to trace a training step once and replay it",
        "conv1d": "use tg.nn.functional.conv1d",
        "conv2d": "use tg.nn.functional.conv2d",
        "conv_transpose2d": "use tg.nn.functional.conv_transpose2d",
        "max_pool2d": "use tg.nn.functional.max_pool2d",
        "avg_pool2d": "use tg.nn.functional.avg_pool2d",
        "lstm": "use tg.nn.LSTM (or tg.nn.LSTMCell for one step)",
        "rnn": "use tg.nn.RNN (or tg.nn.RNNCell for one step)",
        "gru": "use tg.nn.GRU (or tg.nn.GRUCell for one step)",
        "embedding": "use tg.nn.functional.embedding or tg.nn.Embedding",
        "layer_norm": "use tg.nn.functional.layer_norm or tg.nn.LayerNorm",
    },
    "tinygrad_c2.nn": {
        "Conv3d": "only 1-D and 2-D convolutions exist: use Conv1d or Conv2d",
        "MaxPool3d": "only 1-D and 2-D pooling exist: use MaxPool2d",
        "AdaptiveMaxPool2d": "use AdaptiveAvgPool2d, or MaxPool2d with a fitting kernel",
        "BatchNorm3d": "use BatchNorm2d on a reshaped input",
        "MultiheadAttention": _SEQUENCE,
        "Transformer": _SEQUENCE,
    },
    "tinygrad_c2.nn.utils": {
        "rnn": "planned: packed sequences (pack_padded_sequence); pad the batch and use the "
               "layers of tg.nn as they are",
    },
    "tinygrad_c2.nn.functional": {
        "interpolate": "upsample with nn.ConvTranspose2d (learned) instead",
    },
    "tinygrad_c2.optim": {
        "LBFGS": "use SGD, Adam or another first-order optimizer",
        "RAdam": "use Adam, AdamW or NAdam",
        "SparseAdam": "use Adam (there are no sparse tensors)",
        "Rprop": "use SGD, Adam or another first-order optimizer",
        "ASGD": "use SGD",
    },
    "tinygrad_c2.optim.lr_scheduler": {
        "MultiplicativeLR": "use LambdaLR(optimizer, lambda epoch: factor ** epoch)",
        "CyclicLR": "use OneCycleLR, or LambdaLR with your own cycle",
    },
    "tinygrad_c2.data": {
        "random_split": "use tg.utils.data.random_split, or tg.data.train_dev_test_split(X, y)",
    },
    "tinygrad_c2.utils": {
        "tensorboard": "the History that tg.train.fit returns holds the losses per epoch",
        "checkpoint": "to save training state use tg.save and tg.load",
    },
    "tinygrad_c2.utils.data": {
        "DistributedSampler": "tinygrad_c2 runs in one process: use RandomSampler",
        "ChainDataset": "use ConcatDataset",
    },
}

_IMPORT_FROM = dis.opmap["IMPORT_FROM"]


class MissingNameError(AttributeError):
    """AttributeError for a name tinygrad_c2 does not have.

    The close spellings are computed only when the message is shown, so `hasattr` and
    `getattr(x, name, default)` probes (numpy, IPython, collate functions) stay cheap.
    """

    def __init__(self, message: str, name_tried: str | None = None,
                 candidates: Callable[[], Iterable[str]] | None = None) -> None:
        super().__init__(message)
        self.name_tried = name_tried
        self._candidates = candidates

    def __str__(self) -> str:
        text = super().__str__()
        if self.name_tried is None or self._candidates is None:
            return text
        close = difflib.get_close_matches(self.name_tried, list(self._candidates()), n=3)
        if not close:
            return text
        return text + "; did you mean " + " or ".join(repr(c) for c in close) + "?"


def _explain(namespace: str, name: str) -> str:
    hint = HINTS.get(namespace, {}).get(name)
    if hint is None:
        return "it is not part of tinygrad_c2"
    if hint.startswith("planned"):
        return f"it is not yet in tinygrad_c2 ({hint})"
    return f"it is not part of tinygrad_c2; {hint}"


def _error(owner: str, namespace: str, name: str, obj: Any,
           candidates: Callable[[], Iterable[str]]) -> MissingNameError:
    error = MissingNameError(f"{owner} has no attribute {name!r}: {_explain(namespace, name)}",
                             name, candidates)
    # NOTE: with .obj set, Python does not add its own "Did you mean" a second time.
    error.obj = obj
    return error


class MissingAttribute:
    """A Tensor attribute PyTorch has and tinygrad_c2 does not: reading it (on a tensor or on
    the class) raises the explaining AttributeError, so `hasattr` still says False."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        cls = objtype if obj is None else type(obj)
        owner = f"type object {cls.__name__!r}" if obj is None else f"{cls.__name__!r} object"
        # no close spellings: the hint already says what to use
        raise _error(owner, "Tensor", self.name, cls if obj is None else obj, tuple)

    def __repr__(self) -> str:
        return f"<not part of tinygrad_c2: Tensor.{self.name}>"


def bind_missing_attributes(cls: type) -> None:
    """Bind a MissingAttribute on `cls` for each HINTS["Tensor"] name it does not have.

    A name that is real (defined on the class or a base) is left alone: tests/test_missing.py
    then fails, saying to delete its hint.
    """
    for name in HINTS["Tensor"]:
        if not any(name in vars(klass) for klass in cls.__mro__):
            setattr(cls, name, MissingAttribute(name))


def _public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [n for n, v in vars(module).items()
            if not n.startswith("_") and not isinstance(v, ModuleType)]


def module_getattr(module_name: str, name: str) -> Any:
    """The body of a namespace's module `__getattr__`: raise the explaining error.

    Called by Python only when `module.name` was not found. Under `from module import name`
    the error is an ImportError carrying the same explanation (Python would otherwise replace
    it with a bare "cannot import name").
    """
    module = sys.modules[module_name]
    owner = f"module {module_name!r}"
    if name.startswith("_"):
        # Private and dunder probes (IPython, doctest, pickle, numpy) get the plain error, fast.
        raise AttributeError(f"{owner} has no attribute {name!r}", obj=module)
    if _called_by_import_from():
        # NOTE: Python's own fallback for `from package import name`: an already imported
        # submodule (a circular import in progress) is found in sys.modules.
        submodule = sys.modules.get(f"{module_name}.{name}")
        if submodule is not None:
            return submodule
        raise ImportError(
            f"cannot import name {name!r} from {module_name!r}: {_explain(module_name, name)}",
            name=module_name, path=getattr(module, "__file__", None),
        )
    raise _error(owner, module_name, name, module, lambda: _public_names(module))


def _called_by_import_from() -> bool:
    """True when the frame that asked for the attribute is running `from m import name`."""
    try:
        # 0: here, 1: module_getattr, 2: the module's __getattr__, 3: the asking frame.
        frame = sys._getframe(3)
    except (AttributeError, ValueError):  # not CPython, or no such frame
        return False
    code = frame.f_code.co_code
    return 0 <= frame.f_lasti < len(code) and code[frame.f_lasti] == _IMPORT_FROM


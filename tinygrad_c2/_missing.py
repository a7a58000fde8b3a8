"""A missing name explains itself: the AttributeError for `tg.foo`, `nn.Foo`, `F.foo`.

Each public namespace ends with a PEP 562 module `__getattr__` that Python consults only after
normal lookup failed, so nothing here can shadow a real name. The message says the name is not
part of tinygrad_c2 and, where one exists, what to use instead (the HINTS table below: the
PyTorch names people reach for that are not here yet) and the close spellings that are here.

NOTE: Tensor has no `__getattr__`, on purpose. Defining one switches off CPython 3.11's
specialised slot reads for every Tensor attribute (`t.grad` about 5x slower), which costs
about 5% of the instructions of a small op and backward. A missing Tensor attribute keeps
Python's own message, whose traceback already suggests close spellings. A module
`__getattr__` also unspecialises lookups such as `F.relu` (about 60 ns more each), which is
0.1% of the instructions of a small training step (callgrind, 3.11).

>>> import tinygrad_c2 as tg
>>> try:
...     tg.zero
... except AttributeError as error:
...     print(error)
module 'tinygrad_c2' has no attribute 'zero': it is not part of tinygrad_c2; did you mean 'zeros'?
"""

from __future__ import annotations

import difflib
import dis
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

_CPU = "tinygrad_c2 runs on numpy on the CPU only: leave the device code out"
_FLOAT16 = "float16 is not supported: use tg.float32 or tg.float64"
# A hint starting with "planned" reads "it is not yet in tinygrad_c2 (planned: ...)".
_CONV = "planned: convolution and pooling"
_SEQUENCE = "planned: sequence-model layers"

# NOTE: a key here must never be a real attribute of its namespace; tests/test_missing.py
# fails once one becomes real, and then its hint is deleted here.
HINTS: dict[str, dict[str, str]] = {
    "tinygrad_c2": {
        "mps": _CPU,
        "float16": _FLOAT16,
        "half": _FLOAT16,
        "bfloat16": _FLOAT16,
        "float": "use tg.float32 (PyTorch's torch.float)",
        "double": "use tg.float64 (PyTorch's torch.double)",
        "long": "use tg.int64 (PyTorch's torch.long)",
        "compile": "use tg.capture(step) to trace a training step once and replay it",
        "jit": "use tg.capture(step) to trace a training step once and replay it",
        "conv1d": _CONV,
        "conv2d": _CONV,
        "max_pool2d": _CONV,
        "avg_pool2d": _CONV,
        "lstm": _SEQUENCE,
        "rnn": _SEQUENCE,
        "gru": _SEQUENCE,
        "embedding": _SEQUENCE,
        "layer_norm": _SEQUENCE,
    },
    "tinygrad_c2.nn": {
        "Conv1d": _CONV,
        "Conv2d": _CONV,
        "ConvTranspose2d": _CONV,
        "MaxPool2d": _CONV,
        "AvgPool2d": _CONV,
        "AdaptiveAvgPool2d": _CONV,
        "BatchNorm2d": _CONV,
        "Dropout2d": _CONV,
        "RNN": _SEQUENCE,
        "LSTM": _SEQUENCE,
        "GRU": _SEQUENCE,
        "RNNCell": _SEQUENCE,
        "LSTMCell": _SEQUENCE,
        "GRUCell": _SEQUENCE,
        "Embedding": _SEQUENCE,
        "LayerNorm": _SEQUENCE,
        "MultiheadAttention": _SEQUENCE,
        "Transformer": _SEQUENCE,
        "DataParallel": _CPU + " (use the model itself)",
        "parallel": _CPU + " (use the model itself)",
    },
    "tinygrad_c2.nn.utils": {
        "clip_grad_norm_": "planned: gradient clipping, with the sequence-model layers",
        "clip_grad_value_": "planned: gradient clipping, with the sequence-model layers",
        "rnn": _SEQUENCE,
    },
    "tinygrad_c2.nn.functional": {
        "conv1d": _CONV,
        "conv2d": _CONV,
        "max_pool2d": _CONV,
        "avg_pool2d": _CONV,
        "adaptive_avg_pool2d": _CONV,
        "embedding": _SEQUENCE,
        "layer_norm": _SEQUENCE,
        "pad": _CONV,
        "interpolate": _CONV,
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


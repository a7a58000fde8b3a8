"""A missing name explains itself: tg.foo, nn.Foo, F.foo, Tensor.foo raise an AttributeError
that says it is not part of tinygrad_c2 and what to use, without changing any name that exists."""

import importlib
import inspect
import traceback

import pytest

import tinygrad_c2 as tg
import tinygrad_c2.nn.functional as F
from tinygrad_c2 import _missing, nn, optim
from tinygrad_c2.optim import lr_scheduler

NAMESPACES = ["tinygrad_c2", "tinygrad_c2.nn", "tinygrad_c2.nn.functional", "tinygrad_c2.nn.utils",
              "tinygrad_c2.optim",
              "tinygrad_c2.optim.lr_scheduler", "tinygrad_c2.data", "tinygrad_c2.utils",
              "tinygrad_c2.utils.data"]

CASES = [
    (lambda: tg.mps, "module 'tinygrad_c2' has no attribute 'mps': it is not part of "
                     "tinygrad_c2; tinygrad_c2 runs on numpy on the CPU only"),
    (lambda: nn.MultiheadAttention, "planned: sequence-model layers"),
    (lambda: tg.compile, "use tg.capture(step)"),
    (lambda: tg.bfloat16, "bfloat16 is not supported"),
    (lambda: tg.zero, "it is not part of tinygrad_c2; did you mean 'zeros'?"),
    (lambda: tg.LongTensor, "use tg.tensor(data, dtype=tg.int64)"),
    (lambda: tg.no_such_thing, "module 'tinygrad_c2' has no attribute 'no_such_thing': "
                               "it is not part of tinygrad_c2"),
    (lambda: nn.Transformer, "module 'tinygrad_c2.nn' has no attribute 'Transformer': it is not "
                             "yet in tinygrad_c2 (planned: sequence-model layers)"),
    (lambda: nn.Conv3d, "only 1-D and 2-D convolutions exist"),
    (lambda: nn.Lineer, "did you mean 'Linear'?"),
    (lambda: F.interpolate, "module 'tinygrad_c2.nn.functional' has no attribute 'interpolate'"),
    (lambda: tg.conv2d, "use tg.nn.functional.conv2d"),
    (lambda: nn.MultiheadAttention, "it is not yet in tinygrad_c2 (planned: sequence-model "
                                    "layers)"),
    (lambda: tg.lstm, "it is not part of tinygrad_c2; use tg.nn.LSTM"),
    (lambda: nn.utils.rnn, "it is not yet in tinygrad_c2 (planned: packed sequences"),
    (lambda: F.rleu, "did you mean 'relu'?"),
    (lambda: optim.LBFGS, "use SGD, Adam or another first-order optimizer"),
    (lambda: optim.Adamm, "did you mean 'Adam'"),
    (lambda: lr_scheduler.CyclicLR, "use OneCycleLR"),
    (lambda: tg.data.random_split, "use tg.utils.data.random_split"),
    (lambda: tg.utils.tensorboard, "module 'tinygrad_c2.utils' has no attribute 'tensorboard'"),
    (lambda: tg.utils.data.DistributedSampler, "runs in one process: use RandomSampler"),
    (lambda: tg.utils.data.Dataloader, "did you mean 'DataLoader'"),
    (lambda: tg.zeros(2).bfloat16(), "'Tensor' object has no attribute 'bfloat16': it is not "
                                     "part of tinygrad_c2; bfloat16 is not supported"),
    (lambda: tg.zeros(2).pin_memory(), "runs on numpy on the CPU only"),
    (lambda: tg.zeros(2).register_hook(print), "there are no gradient hooks: call retain_grad()"),
    (lambda: tg.zeros(2).stride(), "use .numpy().strides"),
    (lambda: nn.Parameter(tg.zeros(2)).to_sparse(), "'Parameter' object has no attribute "
                                                    "'to_sparse': it is not part of tinygrad_c2"),
    (lambda: tg.Tensor.data_ptr, "type object 'Tensor' has no attribute 'data_ptr': it is not "
                                 "part of tinygrad_c2; use .numpy()"),
]


@pytest.mark.parametrize("expression, fragment", CASES)
def test_a_missing_name_says_it_is_not_part_of_tinygrad_c2_and_what_to_use(expression, fragment):
    with pytest.raises(AttributeError) as info:
        expression()
    assert fragment in str(info.value)


def test_no_hint_names_a_real_attribute_so_a_name_that_lands_removes_its_hint():
    # When a hinted name becomes real, delete its entry in tinygrad_c2/_missing.py HINTS.
    shadowing = [f"{space}.{name}" for space, table in _missing.HINTS.items() for name in table
                 if space != "Tensor" and name in vars(importlib.import_module(space))]
    assert shadowing == []
    assert set(_missing.HINTS) == set(NAMESPACES) | {"Tensor"}


def test_every_tensor_hint_is_bound_and_none_hides_a_real_tensor_attribute():
    # A hinted name that became a real Tensor attribute is left unbound: delete its hint.
    for name in _missing.HINTS["Tensor"]:
        assert isinstance(inspect.getattr_static(tg.Tensor, name), _missing.MissingAttribute), \
            f"Tensor.{name} is real now: delete its entry in tinygrad_c2/_missing.py HINTS"
    bound = {name for name, value in vars(tg.Tensor).items()
             if isinstance(value, _missing.MissingAttribute)}
    assert bound == set(_missing.HINTS["Tensor"])


def test_every_tensor_hint_names_a_pytorch_tensor_attribute():
    torch = pytest.importorskip("torch")
    assert [n for n in _missing.HINTS["Tensor"] if not hasattr(torch.Tensor, n)] == []


def test_hasattr_and_getattr_defaults_still_see_a_missing_name_as_missing():
    for obj in (tg, nn, F, optim, lr_scheduler, tg.data, tg.utils, tg.utils.data):
        assert not hasattr(obj, "mps")
        assert getattr(obj, "mps", None) is None
    assert hasattr(tg, "zeros")


def test_from_import_of_a_missing_name_raises_import_error_with_the_hint():
    with pytest.raises(ImportError, match="cannot import name 'mps' from 'tinygrad_c2': it is "
                                          "not part of tinygrad_c2; tinygrad_c2 runs on numpy"):
        from tinygrad_c2 import mps  # noqa: F401
    with pytest.raises(ImportError, match="planned: sequence-model layers"):
        from tinygrad_c2.nn import MultiheadAttention  # noqa: F401
    with pytest.raises(ImportError, match="use OneCycleLR"):
        from tinygrad_c2.optim.lr_scheduler import CyclicLR  # noqa: F401
    # real names and submodules still import
    from tinygrad_c2 import nn as nn2
    from tinygrad_c2 import zeros
    from tinygrad_c2.nn import functional
    assert nn2 is nn and zeros is tg.zeros and functional is F


@pytest.mark.parametrize("name", ["__wrapped__", "_ipython_canary_method_should_not_exist_",
                                  "__array_interface__", "__torch_function__", "_private"])
def test_private_and_dunder_probes_get_the_plain_error_without_hints(name):
    for obj in (tg, nn, F):
        with pytest.raises(AttributeError) as info:
            getattr(obj, name)
        assert type(info.value) is AttributeError
        assert str(info.value).endswith(f"has no attribute {name!r}")


def test_python_does_not_add_a_second_did_you_mean():
    for expression in (lambda: tg.zero, lambda: nn.Lineer):
        with pytest.raises(AttributeError) as info:
            expression()
        shown = "".join(traceback.format_exception_only(info.type, info.value))
        assert shown.lower().count("did you mean") == 1


def test_dir_lists_only_the_real_names():
    for space in NAMESPACES:
        module = importlib.import_module(space)
        assert sorted(dir(module)) == sorted(vars(module))


def test_ipython_displays_the_library_and_its_namespaces():
    # IPython probes _repr_html_, _ipython_display_ and friends: plain misses, no hint
    formatters = pytest.importorskip("IPython.core.formatters")
    for module in (tg, nn, F):
        shown, _ = formatters.DisplayFormatter().format(module)
        assert shown == {"text/plain": repr(module)}


def test_an_unhinted_missing_tensor_attribute_keeps_pythons_own_error():
    # Tensor has no __getattr__ (it would slow every attribute read: see tinygrad_c2/_missing.py)
    assert not any("__getattr__" in vars(klass) for klass in tg.Tensor.__mro__)
    with pytest.raises(AttributeError) as info:
        tg.tensor([1.0]).no_such_method  # noqa: B018
    assert type(info.value) is AttributeError
    assert str(info.value) == "'Tensor' object has no attribute 'no_such_method'"


def test_a_hinted_tensor_attribute_is_missing_to_hasattr_and_getattr_defaults():
    t = tg.tensor([1.0])
    for name in ("to_sparse", "register_hook", "storage"):
        assert not hasattr(t, name) and not hasattr(tg.Tensor, name)
        assert getattr(t, name, None) is None
    # the hinted message, said once: no "did you mean" from us or from Python
    with pytest.raises(AttributeError) as info:
        t.bfloat16()
    shown = "".join(traceback.format_exception_only(info.type, info.value))
    assert "float16 is not supported" in shown and "did you mean" not in shown.lower()


def test_from_import_still_finds_a_submodule_only_in_sys_modules(monkeypatch):
    # Python's fallback for a circular import in progress: the submodule is in sys.modules
    # but not yet an attribute of its package.
    import sys
    import types

    submodule = types.ModuleType("tinygrad_c2.half_imported")
    monkeypatch.setitem(sys.modules, "tinygrad_c2.half_imported", submodule)
    from tinygrad_c2 import half_imported

    assert half_imported is submodule

"""Devices on a CPU-only library (issue 14.1): PyTorch's device code runs unchanged when it asks
for the CPU, and asking for an accelerator raises a clear error, checked against torch."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn

torch = pytest.importorskip("torch")

CPU_ONLY = "runs on numpy on the CPU only"


@pytest.mark.parametrize("args", [("cpu",), ("cpu:0",), ("cpu", 0), ("cpu", 3)])
def test_device_type_index_str_repr_match_torch(args):
    ours, theirs = tg.device(*args), torch.device(*args)
    assert (ours.type, ours.index, str(ours), repr(ours)) == (
        theirs.type, theirs.index, str(theirs), repr(theirs))


def test_device_equality_and_hash_match_torch():
    for a, b in [("cpu", "cpu"), ("cpu", "cpu:0"), ("cpu:0", "cpu:0"), ("cpu:1", "cpu:0")]:
        assert (tg.device(a) == tg.device(b)) == (torch.device(a) == torch.device(b))
    assert tg.device("cpu") != "cpu" and torch.device("cpu") != "cpu"
    assert hash(tg.device("cpu")) == hash(tg.device("cpu"))
    assert tg.device(tg.device("cpu:0")) == tg.device("cpu:0")
    assert tg.device(torch.device("cpu")) == tg.device("cpu")  # a torch.device is understood


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "mps", "xpu", "meta", 0,
                                  torch.device("cuda"), torch.device("meta")])
def test_an_accelerator_is_refused_saying_the_library_runs_on_the_cpu(spec):
    with pytest.raises(RuntimeError, match=CPU_ONLY):
        tg.device(spec) if not isinstance(spec, torch.device) else tg.ones(1).to(spec)
    with pytest.raises(RuntimeError, match=f"Tensor.to: .*{CPU_ONLY}"):
        tg.ones(2).to(spec)
    with pytest.raises(RuntimeError, match=f"Module.to: .*{CPU_ONLY}"):
        nn.Linear(2, 2).to(spec)
    with pytest.raises(RuntimeError, match=f"zeros: .*{CPU_ONLY}"):
        tg.zeros(2, device=spec)


def test_bad_device_strings_and_indices_are_refused_like_torch():
    for bad in ["foo", "cpu:x", "cpu:-1"]:
        with pytest.raises(RuntimeError):
            torch.device(bad)
        with pytest.raises(RuntimeError, match="device"):
            tg.device(bad)
    with pytest.raises(RuntimeError, match="non-negative"):
        tg.device("cpu", -1)
    with pytest.raises(RuntimeError):
        torch.device("cpu", -1)
    with pytest.raises(TypeError, match="expected a string"):
        tg.device(1.5)


def test_every_tensor_reports_the_one_shared_cpu_device():
    x = tg.randn(2, 3, requires_grad=True)
    y = (x * 2).sum()
    assert x.device == tg.device("cpu") and str(y.device) == "cpu"
    assert x.device is y.device is tg.tensor(1).device
    assert repr(x.device) == repr(torch.ones(1).device)
    assert x.is_cuda is False and torch.ones(1).is_cuda is False
    assert "device" not in tg.Tensor.__slots__  # a property, no per-tensor state


def _pair(dtype_ours=np.float32, dtype_torch=torch.float32, requires_grad=False):
    values = [[1.5, -2.25], [0.0, 3.75]]
    return (tg.tensor(values, dtype=dtype_ours, requires_grad=requires_grad),
            torch.tensor(values, dtype=dtype_torch, requires_grad=requires_grad))


@pytest.mark.parametrize("forms", [
    (("cpu",), {}, ("cpu",), {}),
    ((tg.device("cpu"),), {}, (torch.device("cpu"),), {}),
    ((), {"device": "cpu"}, (), {"device": "cpu"}),
    ((np.float32,), {}, (torch.float32,), {}),
    (("cpu", np.float32), {}, ("cpu", torch.float32), {}),
    ((), {"dtype": np.float32, "non_blocking": True}, (), {"dtype": torch.float32,
                                                          "non_blocking": True}),
    (("cpu",), {"non_blocking": True, "copy": False}, ("cpu",), {"non_blocking": True,
                                                                  "copy": False}),
    ((), {}, (), {}),
])
def test_to_returns_self_when_nothing_changes_as_torch_does(forms):
    args, kwargs, targs, tkwargs = forms
    x, tx = _pair(requires_grad=True)
    assert tx.to(*targs, **tkwargs) is tx
    assert x.to(*args, **kwargs) is x
    assert x.cpu() is x and tx.cpu() is tx


def test_to_cpu_with_an_index_copies_as_torch_does():
    # torch: device("cpu:0") != a tensor's device("cpu"), so the move makes a copy
    x, tx = _pair(requires_grad=True)
    for device in ("cpu:0", tg.device("cpu", 0)):
        y, ty = x.to(device), tx.to("cpu:0")
        assert y is not x and ty is not tx and y.requires_grad and ty.requires_grad
        np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())


def test_to_another_tensor_takes_its_dtype():
    x, tx = _pair()
    assert x.to(x) is x and tx.to(tx) is tx
    other, tother = _pair(np.float64, torch.float64)
    y, ty = x.to(other), tx.to(tother)
    assert y is not x and y.dtype == np.float64 and ty.dtype == torch.float64
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


@pytest.mark.parametrize("ours, theirs, grad", [
    (np.float64, torch.float64, True),
    ("float64", torch.float64, True),
    (np.int64, torch.int64, False),
    (np.int32, torch.int32, False),
    (np.bool_, torch.bool, False),
])
@pytest.mark.parametrize("with_device", [False, True])
def test_to_a_new_dtype_casts_as_torch(ours, theirs, grad, with_device):
    x, tx = _pair(requires_grad=True)
    y = x.to("cpu", ours) if with_device else x.to(dtype=ours)
    ty = tx.to("cpu", theirs) if with_device else tx.to(dtype=theirs)
    assert y is not x
    assert str(y.dtype) == str(ty.dtype).removeprefix("torch.").replace("bool", "bool")
    assert y.requires_grad is ty.requires_grad is grad
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    if grad:  # float -> float is differentiable, the gradient comes back in the input's dtype
        (y * y).sum().backward()
        (ty * ty).sum().backward()
        assert x.grad.dtype == np.float32
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_to_with_copy_gives_a_new_tensor_that_passes_the_gradient():
    x, tx = _pair(requires_grad=True)
    y, ty = x.to("cpu", copy=True), tx.to("cpu", copy=True)
    assert y is not x and ty is not tx
    assert y.requires_grad and not y.is_leaf and ty.requires_grad and not ty.is_leaf
    assert not np.shares_memory(y.numpy(), x.numpy())
    (y * 3).sum().backward()
    (ty * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    n = tg.tensor([1, 2])
    m = n.to(np.int64, False, True)  # positional non_blocking, copy, as torch takes them
    assert m is not n and not np.shares_memory(m.numpy(), n.numpy())
    np.testing.assert_array_equal(m.numpy(), [1, 2])


def test_to_refuses_what_torch_refuses_with_a_type_error():
    x = tg.ones(2)
    for args, kwargs in [(("cpu", np.float64, np.float32), {}), (("foo",), {}),
                         ((), {"colour": "red"}), ((True, True, True), {})]:
        with pytest.raises(TypeError, match="Tensor.to: .*expected"):
            x.to(*args, **kwargs)
    with pytest.raises(TypeError):
        torch.ones(2).to("cpu", torch.float64, torch.float32)


def test_tensor_and_module_cuda_raise_the_cpu_message():
    with pytest.raises(RuntimeError, match=f"Tensor.cuda: .*{CPU_ONLY}"):
        tg.ones(1).cuda()
    with pytest.raises(RuntimeError, match=f"Module.cuda: .*{CPU_ONLY}"):
        nn.Linear(2, 2).cuda()


def test_module_to_accepts_every_form_tensor_to_does():
    model, tmodel = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    for module in (model, tmodel):
        assert module.cpu() is module
    assert model.to("cpu") is model and tmodel.to("cpu") is tmodel
    assert model.to(tg.device("cpu"), non_blocking=True) is model
    weight = model.weight
    model.to("cpu", np.float64)
    tmodel.to("cpu", torch.float64)
    assert model.weight is weight and model.weight.dtype == np.float64
    model.to(tg.ones(1))  # a tensor's dtype
    tmodel.to(torch.ones(1))
    assert model.weight.dtype == np.float32 and tmodel.weight.dtype == torch.float32
    model.to(device="cpu", dtype=np.float64)
    assert model.bias.dtype == np.float64
    with pytest.raises(TypeError, match="floating-point"):
        model.to(np.int64)
    with pytest.raises(TypeError):
        tmodel.to(torch.int64)
    with pytest.raises(TypeError, match="copy"):
        model.to("cpu", copy=True)
    with pytest.raises(RuntimeError, match="copy"):
        tmodel.to("cpu", copy=True)


FACTORIES = [
    (lambda m, **k: m.tensor([1.0, 2.0], **k)),
    (lambda m, **k: m.zeros(2, 3, **k)),
    (lambda m, **k: m.ones(2, **k)),
    (lambda m, **k: m.full((2, 2), 1.5, **k)),
    (lambda m, **k: m.randn(2, **k)),
    (lambda m, **k: m.rand(2, **k)),
    (lambda m, **k: m.arange(0.0, 3.0, **k)),
    (lambda m, **k: m.eye(3, **k)),
    (lambda m, **k: m.zeros_like(m.ones(2, 2), **k)),
    (lambda m, **k: m.ones_like(m.ones(2, 2), **k)),
]


@pytest.mark.parametrize("make", FACTORIES)
def test_every_factory_takes_device_and_dtype(make):
    for device in ("cpu", tg.device("cpu"), "cpu:0", None):
        ours = make(tg, device=device, dtype=tg.float64, requires_grad=True)
        theirs = make(torch, device=device if not isinstance(device, tg.device) else "cpu",
                      dtype=torch.float64, requires_grad=True)
        assert ours.dtype == np.float64 and theirs.dtype == torch.float64
        assert ours.requires_grad and theirs.requires_grad and ours.shape == tuple(theirs.shape)
        assert ours.device == tg.device("cpu")
    with pytest.raises(RuntimeError, match=CPU_ONLY):
        make(tg, device="cuda")


def test_cuda_mps_accelerator_queries_answer_none_like_a_cpu_only_torch():
    assert tg.cuda.is_available() is False
    assert tg.cuda.device_count() == 0
    assert tg.backends.mps.is_available() is False and tg.backends.mps.is_built() is False
    assert tg.accelerator.is_available() is False and tg.accelerator.current_accelerator() is None
    assert tg.backends.cudnn.is_available() is False
    device = tg.device("cuda" if tg.cuda.is_available() else "cpu")  # the usual idiom
    assert tg.randn(2, device=device).to(device).device == device


def test_cuda_seeding_is_a_no_op_and_cudnn_flags_can_be_set():
    tg.manual_seed(0)
    first = tg.randn(3).numpy()
    tg.manual_seed(0)
    tg.cuda.manual_seed(123)
    tg.cuda.manual_seed_all(456)
    np.testing.assert_array_equal(tg.randn(3).numpy(), first)  # the CPU stream is untouched
    cudnn = tg.backends.cudnn
    assert (cudnn.deterministic, cudnn.benchmark) == (torch.backends.cudnn.deterministic,
                                                      torch.backends.cudnn.benchmark)
    try:
        cudnn.deterministic, cudnn.benchmark = True, False
        assert cudnn.deterministic is True and cudnn.benchmark is False
    finally:
        cudnn.deterministic, cudnn.benchmark = False, False


def test_set_default_device_accepts_the_cpu_only():
    tg.set_default_device("cpu")
    tg.set_default_device(None)
    assert tg.get_default_device() == tg.device("cpu")
    with pytest.raises(RuntimeError, match=f"set_default_device: .*{CPU_ONLY}"):
        tg.set_default_device("cuda")
    assert tg.get_default_device() == tg.device("cpu")

"""Module, Parameter, Sequential, ModuleList: registration, traversal, modes, state dicts."""

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn


def mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3)
    )


def torch_mlp():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Linear(4, 8), tnn.BatchNorm1d(8), tnn.ReLU(), tnn.Dropout(0.2), tnn.Linear(8, 3)
    )


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
        self.head = nn.Linear(2, 1, bias=False)
        self.register_buffer("scale", np.ones(2, dtype=np.float32))
        self.register_buffer("cache", np.zeros(2, dtype=np.float32), persistent=False)

    def forward(self, x):
        return self.head(self.encoder(x) * self.scale)


# ---- Parameter -----------------------------------------------------------------------------


def test_parameter_wraps_an_array_without_copying_and_requires_grad():
    array = np.zeros((2, 3), dtype=np.float64)
    p = nn.Parameter(array)
    assert isinstance(p, tg.Tensor)
    assert p.numpy() is array and p.requires_grad and p.is_leaf
    assert not nn.Parameter(array, requires_grad=False).requires_grad


def test_parameter_from_a_tensor_shares_its_data():
    t = tg.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert p.numpy() is t.numpy() and p.dtype == np.float32


def test_parameter_from_a_list_takes_the_default_float_dtype_and_none_is_empty():
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32
    assert nn.Parameter().shape == (0,)


def test_parameter_rejects_integer_data_with_a_clear_error():
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(np.arange(3))


def test_parameter_has_no_instance_dict():
    with pytest.raises(AttributeError):
        nn.Parameter(np.zeros(1)).foo = 1


# ---- registration and traversal ------------------------------------------------------------


def test_named_parameters_use_dotted_names_in_registration_order():
    names = [name for name, _ in Encoder().named_parameters()]
    assert names == ["encoder.0.weight", "encoder.0.bias", "encoder.2.weight",
                     "encoder.2.bias", "head.weight"]


def test_named_parameters_match_torch_for_an_equivalent_sequential():
    ours = [(name, tuple(p.shape)) for name, p in mlp().named_parameters()]
    theirs = [(name, tuple(p.shape)) for name, p in torch_mlp().named_parameters()]
    assert ours == theirs


def test_state_dict_keys_and_shapes_match_torch_for_an_equivalent_sequential():
    ours = mlp().state_dict()
    theirs = torch_mlp().state_dict()
    assert list(ours) == list(theirs)
    for name, value in theirs.items():
        assert ours[name].shape == tuple(value.shape), name
    assert ours["1.num_batches_tracked"].dtype == np.int64
    assert ours["1.num_batches_tracked"].shape == ()


def test_state_dict_holds_copies_not_the_live_arrays():
    model = nn.Linear(2, 2)
    state = model.state_dict()
    state["weight"][...] = 7.0
    assert not np.any(model.weight.numpy() == 7.0)


def test_buffers_are_found_and_non_persistent_ones_stay_out_of_the_state_dict():
    model = Encoder()
    assert [name for name, _ in model.named_buffers()] == ["scale", "cache"]
    assert list(model.state_dict()) == [
        "scale", "encoder.0.weight", "encoder.0.bias", "encoder.2.weight",
        "encoder.2.bias", "head.weight",
    ]
    assert isinstance(model.scale, tg.Tensor) and not model.scale.requires_grad


def test_state_dict_order_is_params_then_buffers_per_module_like_torch():
    torch = pytest.importorskip("torch")

    class TorchEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            tnn = torch.nn
            self.encoder = tnn.Sequential(tnn.Linear(3, 5), tnn.Tanh(), tnn.Linear(5, 2))
            self.head = tnn.Linear(2, 1, bias=False)
            self.register_buffer("scale", torch.ones(2))
            self.register_buffer("cache", torch.zeros(2), persistent=False)

    assert list(Encoder().state_dict()) == list(TorchEncoder().state_dict())


def test_children_modules_and_named_modules():
    model = Encoder()
    assert [name for name, _ in model.named_children()] == ["encoder", "head"]
    assert [name for name, _ in model.named_modules()] == [
        "", "encoder", "encoder.0", "encoder.1", "encoder.2", "head"
    ]
    assert list(model.children())[0] is model.encoder
    assert len(list(model.modules())) == 6


def test_a_shared_parameter_is_listed_once():
    a = nn.Linear(3, 3)
    b = nn.Linear(3, 3)
    b.weight = a.weight
    model = nn.Sequential(a, b)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]


def test_reassigning_an_attribute_moves_it_between_registries():
    model = nn.Module()
    model.thing = nn.Parameter(np.zeros(2))
    model.thing = nn.Linear(1, 1)
    assert [name for name, _ in model.named_parameters()] == ["thing.weight", "thing.bias"]
    del model.thing
    assert list(model.parameters()) == []
    with pytest.raises(AttributeError):
        _ = model.thing


def test_assigning_a_plain_tensor_over_a_parameter_is_a_type_error():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="nn.Parameter or None"):
        layer.weight = tg.zeros(2, 2)
    layer.bias = None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_assigning_before_super_init_names_the_fix():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Broken()


def test_register_buffer_rejects_bad_names_and_values():
    model = nn.Module()
    with pytest.raises(KeyError):
        model.register_buffer("a.b", np.zeros(1))
    with pytest.raises(TypeError, match="buffer"):
        model.register_buffer("a", [1.0, 2.0])
    model.plain = 3
    with pytest.raises(KeyError, match="already exists"):
        model.register_buffer("plain", np.zeros(1))


def test_a_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)


def test_calling_a_module_runs_forward():
    model = Encoder()
    x = tg.Tensor(np.ones((4, 3), dtype=np.float32))
    assert model(x).shape == (4, 1)


# ---- modes, gradients, apply, dtype --------------------------------------------------------


def test_train_and_eval_recurse_into_every_submodule():
    model = nn.Sequential(Encoder(), mlp())
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model[1].train(False)
    assert model.training and not any(m.training for m in model[1].modules())


def test_zero_grad_sets_none_by_default_or_zeros_when_asked():
    model = nn.Linear(3, 2)
    model(tg.ones(4, 3)).sum().backward()
    assert model.weight.grad is not None
    model.zero_grad(set_to_none=False)
    assert np.all(model.weight.grad.numpy() == 0) and model.weight.grad.shape == (2, 3)
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None


def test_apply_visits_children_before_the_module_itself():
    model = Encoder()
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "Tanh", "Linear", "Sequential", "Linear", "Encoder"]


def test_requires_grad_false_freezes_every_parameter():
    model = mlp().requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_double_casts_parameters_grads_and_float_buffers_in_place():
    model = mlp()
    model(tg.ones(5, 4)).sum().backward()
    params = list(model.parameters())
    model.double()
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert all(p.grad.dtype == np.float64 for p in model.parameters())
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    assert model.float()[0].weight.dtype == np.float32
    assert model.to("cpu") is model
    with pytest.raises(TypeError, match="floating-point"):
        model.to(np.int32)


# ---- load_state_dict -----------------------------------------------------------------------


def test_load_state_dict_copies_values_into_the_existing_arrays():
    source, target = mlp(), mlp()
    source[1].running_mean.data[...] = 0.5
    weight_array = target[0].weight.numpy()
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target[0].weight.numpy() is weight_array  # in place: optimizers keep their arrays
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value)


def test_load_state_dict_accepts_a_torch_state_dict_and_then_computes_the_same():
    torch = pytest.importorskip("torch")
    theirs = torch_mlp().double().eval()
    ours = mlp().double().eval()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 4))
    np.testing.assert_allclose(
        ours(tg.Tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12
    )


def test_load_state_dict_strict_lists_missing_unexpected_and_misshaped_keys_at_once():
    model = mlp()
    state = model.state_dict()
    del state["0.bias"]
    state["extra.weight"] = np.zeros(2)
    state["4.weight"] = np.zeros((2, 2), dtype=np.float32)
    before = model.state_dict()
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "Sequential" in message
    assert "missing key(s): '0.bias'" in message
    assert "unexpected key(s): 'extra.weight'" in message
    assert "4.weight: checkpoint shape (2, 2), model shape (3, 8)" in message
    for name, value in before.items():  # nothing was half-loaded
        np.testing.assert_array_equal(model.state_dict()[name], value)


def test_load_state_dict_non_strict_returns_the_incompatible_keys():
    model = mlp()
    state = model.state_dict()
    del state["0.bias"]
    state["extra"] = np.zeros(1)
    state["0.weight"] = np.full((8, 4), 0.25)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["extra"]
    assert np.all(model[0].weight.numpy() == 0.25) and model[0].weight.dtype == np.float32
    assert "<All keys matched" not in repr(result)
    assert repr(nn.Linear(1, 1).load_state_dict(nn.Linear(1, 1).state_dict())) == (
        "<All keys matched successfully>"
    )


def test_load_state_dict_refuses_a_shape_mismatch_even_when_not_strict():
    model = nn.Linear(2, 3)
    with pytest.raises(RuntimeError, match="weight: checkpoint shape"):
        model.load_state_dict({"weight": np.zeros((3, 3))}, strict=False)


def test_load_state_dict_accepts_tensors_and_rejects_non_mappings():
    model = nn.Linear(2, 1)
    model.load_state_dict({"weight": tg.ones(1, 2), "bias": tg.zeros(1)})
    assert np.all(model.weight.numpy() == 1)
    with pytest.raises(TypeError, match="dict"):
        model.load_state_dict([("weight", np.ones((1, 2)))])


# ---- containers and repr ---------------------------------------------------------------


def test_sequential_indexing_slicing_iteration_and_append():
    model = mlp()
    assert len(model) == 5 and isinstance(model[-1], nn.Linear)
    head = model[:2]
    assert isinstance(head, nn.Sequential) and head[0] is model[0]
    assert [type(m).__name__ for m in model][2] == "ReLU"
    model.append(nn.Softmax(dim=1))
    assert len(model) == 6 and "5" in dict(model.named_children())
    with pytest.raises(IndexError, match="out of range"):
        model[6]
    with pytest.raises(TypeError, match="argument 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_sequential_from_an_ordered_dict_uses_its_names():
    model = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.ReLU()))
    assert [name for name, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    layers.append(nn.Linear(2, 1))
    holder = nn.Module()
    holder.layers = layers
    assert [name for name, _ in holder.named_parameters()][-1] == "layers.2.bias"
    layers[0] = nn.Identity()
    assert len(list(holder.parameters())) == 4 and len(layers[1:]) == 2


def test_repr_matches_torch_for_the_same_model():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    ours = nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8, momentum=None), nn.ReLU(), nn.Dropout(0.2),
        nn.LeakyReLU(0.1), nn.Tanh(), nn.Sigmoid(), nn.Softmax(dim=1), nn.LogSoftmax(dim=-1),
        nn.Identity(), nn.Flatten(), nn.Sequential(nn.Linear(8, 2, bias=False)),
        nn.CrossEntropyLoss(),
    )
    theirs = tnn.Sequential(
        tnn.Linear(4, 8), tnn.BatchNorm1d(8, momentum=None), tnn.ReLU(), tnn.Dropout(0.2),
        tnn.LeakyReLU(0.1), tnn.Tanh(), tnn.Sigmoid(), tnn.Softmax(dim=1),
        tnn.LogSoftmax(dim=-1), tnn.Identity(), tnn.Flatten(),
        tnn.Sequential(tnn.Linear(8, 2, bias=False)), tnn.CrossEntropyLoss(),
    )
    assert repr(ours) == repr(theirs)

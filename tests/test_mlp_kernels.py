"""The MLP layer kernels at their edges, against PyTorch: ReLU's forward and backward at 0, -0.0,
+-inf and NaN (inputs and upstream gradients, in small arrays and in arrays large enough for
the kernels' other code paths), and the fused LinearRun giving the unfused nodes' bits there."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn

torch = pytest.importorskip("torch")

INF, NAN = np.inf, np.nan
EDGES = [0.0, -0.0, 1.0, -1.0, 2.5, -3.0, INF, -INF, NAN]
DTYPES = [np.float32, np.float64]
TORCH = {np.float32: torch.float32, np.float64: torch.float64}


def _grid(n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (input, upstream gradient) pair of the edge values, tiled to n_rows rows."""
    x, g = (np.array(a, np.float64) for a in zip(*[(a, b) for a in EDGES for b in EDGES],
                                                   strict=True))
    reps = -(-n_rows * 9 // x.size)
    return np.tile(x, reps)[:n_rows * 9].reshape(n_rows, 9), \
        np.tile(g, reps)[:n_rows * 9].reshape(n_rows, 9)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("rows", [9, 1000], ids=["small", "large"])
def test_relu_value_and_gradient_at_every_edge_equal_pytorch(dtype, rows):
    x, g = (a.astype(dtype) for a in _grid(rows))
    ours = tg.tensor(x, requires_grad=True)
    y = ours.relu()
    y.backward(tg.tensor(g))
    theirs = torch.tensor(x, requires_grad=True)
    ty = torch.relu(theirs)
    ty.backward(torch.tensor(g))
    assert y.dtype == dtype and ours.grad.dtype == dtype
    expected = ty.detach().numpy()
    # NOTE: torch's relu keeps -0.0 as -0.0; ours gives +0.0 for every input <= 0 (and the
    # equality below, which does not tell the zeros apart, is all that is promised)
    np.testing.assert_array_equal(y.numpy(), expected)
    assert not np.signbit(y.numpy()[y.numpy() == 0]).any(), "relu(x <= 0) must be +0.0"
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("g_value", [INF, -INF, NAN])
def test_relu_blocks_an_infinite_or_nan_upstream_gradient_where_its_output_is_zero(g_value):
    # PyTorch's threshold_backward selects 0 there; a product g * 0 would give NaN
    x = tg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    with np.errstate(all="raise"):  # and no floating-point warning on the way
        x.relu().backward(tg.tensor([g_value, g_value, 1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("rows", [9, 1000], ids=["small", "large"])
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_fused_relu_layers_give_the_unfused_bits_for_edge_inputs_and_gradients(rows, dtype):
    model = nn.Sequential(nn.Linear(9, 9), nn.ReLU(), nn.Linear(9, 9), nn.ReLU()).to(dtype)
    with tg.no_grad():  # the first layer passes the edge values through unchanged
        model[0].weight.copy_(tg.eye(9, dtype=dtype))
        model[0].bias.zero_()
    x, g = _grid(rows)
    results = []
    for fused in (True, False):
        model.zero_grad()
        xt = tg.tensor(x, dtype=dtype, requires_grad=True)
        with np.errstate(invalid="ignore"):  # inf - inf in the second layer's product
            out = model(xt) if fused else model[3](model[2](model[1](model[0](xt))))
            assert (out.grad_fn.name() == "Linear+Relu+Linear+Relu") is fused
            out.backward(tg.tensor(g, dtype=dtype))
        results.append([out.numpy(), xt.grad.numpy()] +
                       [p.grad.numpy() for p in model.parameters()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "3-d", "broadcast"])
def test_linear_bias_gradient_equals_pytorch_for_every_layout_and_batch_size(dtype, layout):
    # the bias gradient takes BLAS's ones @ g for a C-contiguous g and numpy's sum otherwise
    rng = np.random.default_rng(5)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 0}
    w, b = rng.standard_normal((6, 4)).astype(dtype), rng.standard_normal(6).astype(dtype)
    for batch in (64, 7, 64):  # a smaller last batch, then the first size again
        shape = (batch // 7 + 1, 7, 4) if layout == "3-d" else (batch, 4)
        x = rng.standard_normal(shape).astype(dtype)
        up = rng.standard_normal((*shape[:-1], 6)).astype(dtype)
        ours_b = tg.tensor(b, requires_grad=True)
        theirs_b = torch.tensor(b, requires_grad=True)
        y = nn.functional.linear(tg.tensor(x), tg.tensor(w), ours_b)
        ty = torch.nn.functional.linear(torch.tensor(x), torch.tensor(w), theirs_b)
        if layout == "transposed":  # an upstream gradient in F order
            y.backward(tg.tensor(np.asfortranarray(up)))
            ty.backward(torch.tensor(up))
        elif layout == "broadcast":  # sum's gradient: a stride-0 array
            (y * 1.0).sum().backward()
            ty.sum().backward()
        else:
            y.backward(tg.tensor(up))
            ty.backward(torch.tensor(up))
        assert ours_b.grad.dtype == dtype
        np.testing.assert_allclose(ours_b.grad.numpy(), theirs_b.grad.numpy(), **tol)

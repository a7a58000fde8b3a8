"""Engine semantics: reuse, fan-out, depth, accumulation, freeing, modes, user ops."""

import numpy as np
import pytest

import tinygrad_c2 as tg


def test_reused_node_accumulates_x_times_x():
    x = tg.tensor([3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [6.0]


def test_a_plus_a_gives_two():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    (a + a).sum().backward()
    assert a.grad.tolist() == [2.0, 2.0]


def test_diamond_sums_both_paths():
    x = tg.tensor(2.0, requires_grad=True)
    b, c = x * 3.0, x.exp()
    (b * c).backward()  # d/dx (3x e^x) = 3 e^x + 3x e^x
    assert x.grad.item() == pytest.approx(3 * np.exp(2) * 3)


def test_fan_out_of_an_intermediate_reaches_the_leaf_once_per_path():
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    h = x * 2.0
    y = h.sum() + (h * h).sum() + h.relu().sum()
    y.backward()
    expected = 2.0 + 2.0 * 2.0 * 2.0 * np.array([1.0, -2.0]) + 2.0 * np.array([1.0, 0.0])
    np.testing.assert_allclose(x.grad.data, expected)


def test_twenty_thousand_deep_chain_needs_no_recursion():
    x = tg.tensor(1.0, dtype=tg.float64, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 20_000, rel=1e-9)


def test_gradients_accumulate_over_two_backward_calls():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    (w * 3.0).sum().backward()
    (w * w).sum().backward()
    assert w.grad.tolist() == [3.0 + 2.0, 3.0 + 4.0]


def test_retain_graph_allows_a_second_backward_and_doubles_the_gradient():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert w.grad.tolist() == [4.0, 8.0]


def test_second_backward_through_a_freed_graph_is_a_clear_error():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w.exp() * 2.0).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        loss.backward()


def test_no_grad_records_nothing_and_restores_the_mode():
    w = tg.tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = w * 2.0
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            z = w * 2.0
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_works_as_a_decorator():
    @tg.no_grad()
    def evaluate(w):
        return w * 2.0

    assert not evaluate(tg.tensor([1.0], requires_grad=True)).requires_grad


def test_no_graph_is_built_when_no_input_requires_grad():
    y = tg.tensor([1.0]) * tg.tensor([2.0])
    assert y.grad_fn is None and not y.requires_grad


def test_detach_cuts_the_graph_but_shares_data():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    d = (w * 2.0).detach()
    assert d.grad_fn is None and not d.requires_grad
    y = (w * d).sum()
    y.backward()
    assert w.grad.tolist() == [2.0, 4.0]  # d is a constant: no second path


def test_non_scalar_backward_takes_a_gradient_argument():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="non-scalar"):
        y.backward(retain_graph=True)
    y.backward(gradient=np.array([1.0, 0.5, -1.0]))
    assert x.grad.tolist() == [2.0, 2.0, -6.0]


def test_backward_gradient_of_the_wrong_shape_is_refused():
    y = tg.tensor([1.0, 2.0], requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_backward_on_a_tensor_without_grad_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.tensor([1.0]).sum().backward()


def test_inputs_that_need_no_gradient_get_none():
    x = tg.tensor([[1.0, 2.0]])
    w = tg.tensor([[3.0], [4.0]], requires_grad=True)
    (x @ w).sum().backward()
    assert x.grad is None
    assert w.grad.tolist() == [[1.0], [2.0]]


def test_two_leaves_never_share_one_grad_buffer():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data *= 10  # an in-place edit of one gradient must not leak into the other
    assert b.grad.tolist() == [1.0, 1.0]


def test_broadcasting_is_undone_in_the_gradient():
    x = tg.randn(4, 3, requires_grad=True)
    b = tg.randn(3, requires_grad=True)
    s = tg.randn(1, 1, requires_grad=True)
    ((x + b) * s).sum().backward()
    assert b.grad.shape == (3,) and s.grad.shape == (1, 1)
    np.testing.assert_allclose(b.grad.data, np.full(3, 4 * s.item()), rtol=1e-6)


def test_float32_parameter_gets_a_float32_gradient_even_when_mixed_with_float64():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    (w * np.array([0.5, 0.25])).sum().backward()
    assert w.grad.dtype == np.float32


def test_retain_grad_keeps_an_intermediate_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    h.retain_grad()
    (h * h).sum().backward()
    assert h.grad.tolist() == [6.0, 12.0]
    assert x.grad.tolist() == [18.0, 36.0]


def test_a_user_function_is_a_first_class_op():
    class Square(tg.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return scale * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * ctx.scale * x * g, None

    x = tg.tensor([1.0, -3.0], requires_grad=True)
    y = Square.apply(x, 0.5)
    assert y.grad_fn.name() == "Square"
    y.sum().backward()
    assert x.grad.tolist() == [1.0, -3.0]
    assert tg.gradcheck(lambda x: Square.apply(x, 0.5).sum(), tg.randn(4, requires_grad=True))


def test_a_user_function_returning_too_few_gradients_is_named():
    class Bad(tg.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Bad.backward returned 1 gradients for 2"):
        Bad.apply(x, x).sum().backward()


def test_saved_arrays_are_released_after_backward():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    node = y.grad_fn
    assert node.saved_tensors
    y.sum().backward()
    assert not isinstance(node.saved_tensors, tuple)


def test_detect_anomaly_names_the_forward_op_and_the_user_line():
    x = tg.tensor([-1.0, 1.0], requires_grad=True)
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as info:
        x.sqrt()
    message = str(info.value)
    assert "Sqrt forward produced nan" in message
    assert "test_graph.py" in message and "x.sqrt()" in message


def test_detect_anomaly_catches_a_backward_that_produces_inf():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with tg.detect_anomaly():
        y = x.sqrt() * 2.0  # sqrt'(0) = inf
        with pytest.raises(tg.AnomalyError, match="Sqrt backward produced inf"):
            y.sum().backward()


def test_an_anomaly_is_a_runtime_error_as_in_pytorch():
    # PyTorch's anomaly mode raises RuntimeError ("Function 'SqrtBackward0' returned nan
    # values..."), and API.md promises op errors catchable as RuntimeError: a PyTorch user's
    # `except RuntimeError` must catch ours too (it stays a FloatingPointError for numpy code)
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with tg.detect_anomaly():
        y = x.sqrt() * 2.0
        with pytest.raises(RuntimeError, match="Sqrt backward produced inf"):
            y.sum().backward()
    with tg.detect_anomaly(), pytest.raises(FloatingPointError, match="Sqrt forward"):
        tg.tensor([-1.0], requires_grad=True).sqrt()


def test_without_anomaly_mode_nan_passes_silently_through_numpy_warnings_only():
    with np.errstate(invalid="ignore"):
        y = tg.tensor([-1.0]).sqrt()
    assert np.isnan(y.item())

"""tg.autograd (grad, backward, Function, gradcheck) and the grad-mode switches
(set_grad_enabled, inference_mode), against PyTorch."""

import numpy as np
import pytest

import tinygrad_c2 as tg

torch = pytest.importorskip("torch")

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
W = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.6]])


def _both(requires=True):
    """The same small graph in both libraries: h = tanh(x @ w), y = (h ** 2).sum()."""
    out = []
    for lib in (tg, torch):
        x = lib.tensor(X, requires_grad=requires)
        w = lib.tensor(W, requires_grad=True)
        h = (x @ w).tanh()
        out.append((x, w, h, (h ** 2).sum()))
    return out


def test_grad_of_a_scalar_wrt_leaves_and_an_intermediate_matches_torch():
    (x, w, h, y), (tx, tw, th, ty) = _both()
    got = tg.autograd.grad(y, [w, h, x])
    want = torch.autograd.grad(ty, [tw, th, tx])
    assert isinstance(got, tuple) and len(got) == 3
    for g, t in zip(got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-12)
        assert g.numpy().dtype == np.float64
    # nothing was accumulated anywhere
    assert x.grad is None and w.grad is None and h.grad is None


def test_grad_of_a_vector_output_with_grad_outputs_matches_torch():
    (x, w, h, _), (tx, tw, th, _) = _both()
    v = np.array([[1.0, -2.0], [0.5, 3.0]])
    (g,) = tg.autograd.grad(h, w, grad_outputs=tg.tensor(v))
    (t,) = torch.autograd.grad(th, tw, grad_outputs=torch.tensor(v))
    np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-12)


def test_grad_of_several_outputs_sums_them_like_torch():
    x, tx = tg.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0],
                                                                     requires_grad=True)
    (g,) = tg.autograd.grad([(x ** 3).sum(), (x * 2).sum()], x)
    (t,) = torch.autograd.grad([(tx ** 3).sum(), (tx * 2).sum()], tx)
    np.testing.assert_allclose(g.numpy(), t.numpy())


def test_grad_leaves_existing_grads_untouched_and_backward_still_accumulates():
    (x, w, h, y), _ = _both()
    w.grad = tg.tensor(np.full(W.shape, 7.0))
    before = w.grad
    tg.autograd.grad(y, w, retain_graph=True)
    assert w.grad is before and np.all(w.grad.numpy() == 7.0) and x.grad is None
    y.backward()
    assert x.grad is not None and not np.all(w.grad.numpy() == 7.0)


def test_retain_grad_tensors_still_get_their_grad_as_in_torch():
    (x, w, h, y), (tx, tw, th, ty) = _both()
    h.retain_grad()
    th.retain_grad()
    tg.autograd.grad(y, [h, x])
    torch.autograd.grad(ty, [th, tx])
    np.testing.assert_allclose(h.grad.numpy(), th.grad.numpy(), rtol=1e-12)
    assert x.grad is None and tx.grad is None


def test_an_input_the_outputs_do_not_use_raises_unless_allow_unused():
    (x, w, h, y), _ = _both()
    z = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="index 0.*not to have been used.*allow_unused"):
        tg.autograd.grad(y, [z, w], retain_graph=True)
    gz, gw = tg.autograd.grad(y, [z, w], allow_unused=True, retain_graph=True)
    assert gz is None and gw is not None
    (gz,) = tg.autograd.grad(y, z, materialize_grads=True)
    assert np.array_equal(gz.numpy(), [0.0])


def test_the_graph_is_freed_unless_retain_graph():
    (x, w, h, y), _ = _both()
    first = tg.autograd.grad(y, w, retain_graph=True)
    again = tg.autograd.grad(y, w)  # retained: the second walk works and agrees
    np.testing.assert_array_equal(first[0].numpy(), again[0].numpy())
    with pytest.raises(RuntimeError, match="a second time"):
        tg.autograd.grad(y, w)


def test_errors_match_torch_kinds():
    (x, w, h, y), _ = _both(requires=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="grad_outputs\\[0\\] is needed for a non-scalar"):
        tg.autograd.grad(h, w)
    with pytest.raises(ValueError, match="gradient has shape \\(3,\\)"):
        tg.autograd.grad(h, w, grad_outputs=tg.ones(3))
    with pytest.raises(RuntimeError, match="element 0 of the outputs does not require grad"):
        tg.autograd.grad(tg.tensor(1.0), w)
    with pytest.raises(TypeError, match="inputs\\[0\\] must be a Tensor"):
        tg.autograd.grad(y, [W])


def test_grad_of_a_leaf_output_wrt_itself_is_the_seed():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.autograd.grad(x, x, grad_outputs=tg.tensor([3.0, 4.0]))
    assert np.array_equal(g.numpy(), [3.0, 4.0]) and x.grad is None


def test_autograd_backward_sums_several_outputs_like_torch():
    (x, w, h, y), (tx, tw, th, ty) = _both()
    v = np.ones((2, 2))
    tg.autograd.backward([y, h], [None, tg.tensor(v)])
    torch.autograd.backward([ty, th], [None, torch.tensor(v)])
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_autograd_backward_with_inputs_fills_only_those():
    (x, w, h, y), (tx, tw, th, ty) = _both()
    tg.autograd.backward(y, inputs=[w])
    torch.autograd.backward(ty, inputs=[tw])
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    assert x.grad is None and tx.grad is None


def test_namespace_is_the_same_objects():
    assert tg.autograd.Function is tg.Function
    assert tg.autograd.gradcheck is tg.gradcheck
    assert tg.autograd.no_grad is tg.no_grad and tg.autograd.enable_grad is tg.enable_grad
    assert tg.autograd.set_grad_enabled is tg.set_grad_enabled
    assert tg.autograd.gradgradcheck is tg.gradgradcheck
    assert callable(tg.autograd.functional.hessian)  # higher-order gradients (issue 19)


def test_set_grad_enabled_as_a_call_and_as_a_context_manager():
    w = tg.ones(2, requires_grad=True)
    try:
        tg.set_grad_enabled(False)
        assert not tg.is_grad_enabled() and not (w * 2).requires_grad
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()
    with tg.set_grad_enabled(False):
        assert not (w * 2).requires_grad
        with tg.set_grad_enabled(True):
            assert (w * 2).requires_grad
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()

    @tg.set_grad_enabled(False)
    def f():
        return tg.is_grad_enabled()

    assert tg.is_grad_enabled() and f() is False and tg.is_grad_enabled()
    with pytest.raises(TypeError, match="must be a bool"):
        tg.set_grad_enabled("no")


def test_inference_mode_like_torch():
    w = tg.ones(2, requires_grad=True)
    states = []
    for lib in (tg, torch):
        with lib.inference_mode():
            inside = (lib.is_inference_mode_enabled(), lib.is_grad_enabled())
        with lib.no_grad(), lib.inference_mode(False):
            off = (lib.is_inference_mode_enabled(), lib.is_grad_enabled())

        @lib.inference_mode
        def bare(lib=lib):
            return lib.is_inference_mode_enabled()

        @lib.inference_mode()
        def called(lib=lib):
            return lib.is_grad_enabled()

        states.append((inside, off, bare(), called(), lib.is_inference_mode_enabled()))
    assert states[0] == states[1] == ((True, False), (False, True), True, False, False)
    with tg.inference_mode():
        assert not (w * 2).requires_grad


# ------------------------------------------------------------ custom Functions, both styles


def _pytorch_style(lib):
    """The PyTorch tutorial's custom Functions, written once against `lib` (torch or tg)."""

    class LegendrePolynomial3(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class MyReLU(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * (input > 0)

    class ScaledExp(lib.autograd.Function):  # saves its output; a non-tensor argument
        @staticmethod
        def forward(ctx, input, scale):
            result = input.exp() * scale
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, grad_output):
            (result,) = ctx.saved_tensors
            return grad_output * result, None

    return LegendrePolynomial3, MyReLU, ScaledExp


def test_pytorch_style_custom_functions_run_unchanged_and_match_torch():
    v = np.array([-1.5, -0.2, 0.3, 0.9, 2.0])
    results = []
    for lib in (tg, torch):
        legendre, relu, scaled_exp = _pytorch_style(lib)
        x = lib.tensor(v, requires_grad=True)
        y = relu.apply(legendre.apply(x * 0.7)) + scaled_exp.apply(x, 3.0)
        y.sum().backward()
        results.append((y.detach().numpy() if lib is torch else y.numpy(), x.grad.numpy()
                        if lib is torch else x.grad.numpy(), type(y.grad_fn).__name__))
    (y, g, fn), (ty, tg_, tfn) = results
    np.testing.assert_allclose(y, ty, rtol=1e-12)
    np.testing.assert_allclose(g, tg_, rtol=1e-12)
    assert fn == "Add" and tfn == "AddBackward0"


def test_pytorch_style_saved_tensors_are_tensors_and_ops_inside_record_nothing():
    seen = {}

    class Probe(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            y = x * 2
            seen["forward"] = (type(x), y.requires_grad, tg.is_grad_enabled())
            return y

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            seen["backward"] = (type(g), type(x))
            return g * 2

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    Probe.apply(x).sum().backward()
    assert Probe.tensor_style is True
    assert seen == {"forward": (tg.Tensor, False, False), "backward": (tg.Tensor, tg.Tensor)}
    assert np.array_equal(x.grad.numpy(), [2.0, 2.0])
    x64 = tg.tensor([0.5, -1.0], dtype=tg.float64, requires_grad=True)
    assert tg.autograd.gradcheck(lambda t: (Probe.apply(t) ** 2).sum(), (x64,))


def test_numpy_style_custom_functions_still_get_arrays():
    seen = {}

    class NpSigmoid(tg.Function):
        @staticmethod
        def forward(ctx, x):
            y = 1 / (1 + np.exp(-x))
            ctx.save_for_backward(y)
            seen["forward"] = type(x)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            seen["backward"] = (type(g), type(y))
            return g * y * (1 - y)

    class Forced(tg.Function):  # uses no numpy, asks for arrays explicitly
        tensor_style = False

        @staticmethod
        def forward(ctx, x):
            seen["forced"] = type(x)
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x, tx = tg.tensor([0.5, -2.0], requires_grad=True), torch.tensor([0.5, -2.0],
                                                                      requires_grad=True)
    (NpSigmoid.apply(x) + Forced.apply(x)).sum().backward()
    (tx.sigmoid() + tx * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    assert NpSigmoid.tensor_style is False and Forced.tensor_style is False
    assert seen == {"forward": np.ndarray, "backward": (np.ndarray, np.ndarray),
                    "forced": np.ndarray}


def _numpy_abs(lib):
    """PyTorch's numpy-extension pattern: .detach().numpy() in, from_numpy out."""

    class NumpyAbs(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return lib.from_numpy(np.abs(input.detach().numpy()))

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * lib.from_numpy(np.sign(input.detach().numpy()))

    return NumpyAbs


def test_a_pytorch_function_that_calls_numpy_itself_gets_tensors_and_matches_torch():
    results = []
    for lib in (tg, torch):
        numpy_abs = _numpy_abs(lib)
        x = lib.tensor([-1.5, 0.5, 2.0], dtype=lib.float64, requires_grad=True)
        y = numpy_abs.apply(x * 2.0)
        (y * lib.tensor([1.0, -3.0, 0.5], dtype=lib.float64)).sum().backward()
        results.append((y.detach().numpy().tolist(), x.grad.numpy().tolist()))
    assert results[0] == results[1]
    assert _numpy_abs(tg).tensor_style is True


def test_builtin_primitives_are_not_wrapped():
    from tinygrad_c2 import ops

    assert all(cls.tensor_style is None for cls in tg.PRIMITIVES.values())
    assert not hasattr(ops.Mul.forward, "_tensor_wrapped")


def test_a_method_missing_in_the_chosen_style_says_how_to_switch():
    class TorchLike(tg.Function):
        tensor_style = False  # forced to arrays, but written with tensor methods

        @staticmethod
        def forward(ctx, x):
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):
            return g

    class NumpyLike(tg.Function):  # uses no numpy, so Tensor style, but an ndarray method
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            return g

    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(AttributeError, match=r"TorchLike.forward: .*'clamp'.*numpy arrays "
                                             r"\(its tensor_style says so\).*tensor_style = True"):
        TorchLike.apply(x)
    with pytest.raises(AttributeError, match=r"NumpyLike.forward: .*'copy'.*Tensors \(it uses "
                                             r"no numpy\).*tensor_style = False"):
        NumpyLike.apply(x)


def test_fan_in_gradients_sum_in_place_only_into_arrays_the_sweep_made():
    # x feeds five consumers, w three (a leaf): the third and later gradients for a node or a
    # leaf are added in place into the sweep's own sum, never into a consumer's array. Keep,
    # Pass and Add hand back arrays the engine must not write into (a saved array, the
    # incoming gradient itself).
    torch = pytest.importorskip("torch")
    kept = np.full((3, 4), 0.5)

    class Keep(tg.Function):  # y = x + 0.5 * (const), backward hands back a kept array
        @staticmethod
        def forward(ctx, x):
            return x + 0.0

        @staticmethod
        def backward(ctx, g):
            return kept

    rng = np.random.default_rng(3)
    w0, g0 = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    w = tg.tensor(w0, requires_grad=True)
    x = w * 2.0
    out = Keep.apply(x) + x + x * 3.0 + x.exp() + (x + w) + w.tanh() + Keep.apply(w)
    out.backward(tg.tensor(g0))
    tw = torch.tensor(w0, requires_grad=True)
    tx = tw * 2.0
    tout = tx + tx + tx * 3.0 + tx.exp() + (tx + tw) + tw.tanh() + tw
    tout.backward(torch.tensor(g0))
    # Keep's backward returns 0.5 everywhere instead of g (twice): correct the torch side
    expected = tw.grad.numpy() + 2.0 * (kept - g0) + (kept - g0)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(kept, np.full((3, 4), 0.5))  # never written into

"""PyTorch's remaining Tensor methods and namespace (issue 14, item 5) against torch: values,
dtypes, gradients in float64 through a random cotangent, and the types of the errors.

Each case is one expression written once and run twice, with `L` bound to tinygrad_c2 and to
torch (the APIs are the same, which is the point)."""

import math

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import functions

torch = pytest.importorskip("torch")

NAN = float("nan")
IDX = np.array([[0, 0, 3], [2, 1, 1], [3, 3, 0]])
TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [2.0, -1.0, 2.0, 0.0]])
ZEROS = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 1.0], [2.0, 0.5, -1.0, 4.0]])
MASK = np.array([[True, False, True, False], [False, False, True, True],
                 [True, True, False, False]])


def _normal(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _dtype_name(t):
    """'float32', 'int64', 'bool' for a tinygrad_c2 or a torch tensor."""
    return str(t.dtype).removeprefix("torch.")


def _leaves(arrays, lib):
    """The input arrays as leaves of lib; float64 ones require grad."""
    out = []
    for a in arrays:
        a = np.asarray(a)
        grad = a.dtype == np.float64
        out.append(tg.tensor(a, requires_grad=grad) if lib is tg
                   else torch.tensor(a, requires_grad=grad))
    return out


def _outputs(result):
    """A result as a list of tensors (named tuples and tuples of tensors flattened)."""
    return list(result) if isinstance(result, tuple) else [result]


def assert_matches_torch(expr, *arrays):
    """expr(L, *inputs) with L = tg and L = torch: same values, dtypes, shapes and gradients."""
    ours, theirs = _leaves(arrays, tg), _leaves(arrays, torch)
    out, tout = _outputs(expr(tg, *ours)), _outputs(expr(torch, *theirs))
    assert len(out) == len(tout)
    for o, t in zip(out, tout, strict=True):
        assert o.shape == tuple(t.shape)
        assert _dtype_name(o) == _dtype_name(t)
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)
        assert o.requires_grad == t.requires_grad
    graded = [(o, t) for o, t in zip(out, tout, strict=True) if t.requires_grad]
    if not graded:
        return
    rng = np.random.default_rng(7)
    # NOTE: each cotangent in its output's dtype: a float64 cotangent on a float32 output would
    # test mixed-dtype promotion in backward, not the op
    cots = [rng.standard_normal(t.shape).astype(o.dtype) for o, t in graded]
    sum((o * tg.tensor(c)).sum() for (o, _), c in zip(graded, cots, strict=True)).backward()
    sum((t * torch.tensor(c)).sum() for (_, t), c in zip(graded, cots, strict=True)).backward()
    for mine, ref in zip(ours, theirs, strict=True):
        if ref.requires_grad and ref.grad is None:  # used for its shape, or norm(p=0)
            assert mine.grad is None or not mine.grad.numpy().any()
        elif ref.requires_grad:
            np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-10,
                                       atol=1e-12)


CASES = {
    "t": (lambda L, x: x.t(), _normal(3, 4)),
    "t_vector": (lambda L, x: x.t(), _normal(3)),
    "mT": (lambda L, x: x.mT, _normal(2, 3, 4)),
    "mm": (lambda L, a, b: a.mm(b), _normal(3, 4), _normal(4, 2, seed=1)),
    "bmm": (lambda L, a, b: a.bmm(b), _normal(2, 3, 4), _normal(2, 4, 2, seed=1)),
    "eq_ne": (lambda L, a, b: (a.eq(b), a.ne(b), a.eq(1.0)), np.array([1.0, 2, 3]),
              np.array([1.0, 0, 3])),
    "lt_le_gt_ge": (lambda L, a, b: (a.lt(b), a.le(b), a.gt(b), a.ge(b), a.gt(2)),
                    np.array([1.0, 2, 3]), np.array([2.0, 2, 2])),
    "view_as_reshape_as_expand_as": (lambda L, a, b: (a.view_as(b), a.reshape_as(b),
                                                      a[:1, :3].expand_as(b.t())),
                                     _normal(2, 6), _normal(3, 4)),
    "clone": (lambda L, x: x.clone() * 2, _normal(3)),
    "clone_int": (lambda L, x: x.clone(), np.array([1, 2])),
    "contiguous": (lambda L, x: x.t().contiguous(), _normal(2, 3)),
    "flip": (lambda L, x: (x.flip(0), x.flip(0, 2), x.flip([-1])), _normal(2, 3, 4)),
    "flip_0d": (lambda L, x: x.flip(0), np.array(2.5)),
    "norm_fro": (lambda L, x: x.norm(), _normal(3, 4)),
    "norm_2_dim_keepdim": (lambda L, x: x.norm(2, dim=1, keepdim=True), _normal(3, 4)),
    "norm_1": (lambda L, x: x.norm(1), _normal(3, 4)),
    "norm_3_dims": (lambda L, x: x.norm(3, dim=(0, 2)), _normal(2, 3, 4)),
    "norm_half": (lambda L, x: x.norm(0.5, dim=0), _normal(3, 4) + 5),
    "norm_inf": (lambda L, x: (x.norm(math.inf), x.norm(-math.inf, dim=1)), _normal(3, 4)),
    "norm_0": (lambda L, x: x.norm(0, dim=1), ZEROS),
    "norm_of_zeros_has_zero_gradient": (lambda L, x: (x.norm(), x.norm(3)), np.zeros(3)),
    "norm_functional": (lambda L, x: L.norm(x, dim=0), _normal(3, 4)),
    "gather": (lambda L, x: x.gather(1, L.tensor(IDX)), _normal(3, 5)),
    "gather_int32_index": (lambda L, x: x.gather(0, L.tensor(IDX[:2], dtype=L.int32)),
                           _normal(4, 4)),
    "scatter_add": (lambda L, x, s: x.scatter_add(1, L.tensor(IDX), s), _normal(3, 5),
                    _normal(3, 3, seed=1)),
    "scatter_add_functional": (lambda L, x, s: L.scatter_add(x, 0, L.tensor(IDX[:2]), s),
                               _normal(4, 4), _normal(2, 3, seed=1)),
    "sort": (lambda L, x: x.sort(), _normal(3, 4)),
    "sort_dim0_descending": (lambda L, x: x.sort(0, descending=True), _normal(3, 4)),
    "sort_nan_stable_descending": (lambda L, x: L.sort(x, descending=True, stable=True),
                                   np.array([2.0, NAN, 1.0, 2.0, NAN, -1.0])),
    "sort_nan_stable": (lambda L, x: x.sort(stable=True), np.array([2.0, NAN, 1.0, 2.0, -1.0])),
    "sort_ties_stable_int": (lambda L, x: x.sort(stable=True), np.array([3, 1, 2, 1, 3])),
    "argsort": (lambda L, x: (x.argsort(), L.argsort(x, dim=0, descending=True)), _normal(3, 4)),
    "topk": (lambda L, x: x.topk(2), _normal(3, 4)),
    "topk_smallest_dim0": (lambda L, x: L.topk(x, 2, dim=0, largest=False), _normal(3, 4)),
    "topk_nan_is_largest": (lambda L, x: x.topk(2), np.array([2.0, NAN, 1.0, 3.0])),
    "masked_fill": (lambda L, x: x.masked_fill(L.tensor(MASK), -1.5), _normal(3, 4)),
    "masked_fill_broadcast_mask": (lambda L, x: x.masked_fill(L.tensor(MASK[:, :1]), 0.0),
                                   _normal(3, 4)),
    "masked_fill_enlarging_mask": (lambda L, x: x.masked_fill(L.tensor(MASK), 2.0), _normal(4)),
    "masked_fill_int_truncates": (lambda L, x: x.masked_fill(L.tensor(MASK[0]), 2.7),
                                  np.array([1, 2, 3, 4])),
    "masked_fill_tensor_value": (lambda L, x, v: x.masked_fill(L.tensor(MASK), v), _normal(3, 4),
                                 np.array(0.25)),
    "chunk": (lambda L, x: x.chunk(3), _normal(5, 2)),
    "chunk_fewer": (lambda L, x: L.chunk(x, 4, dim=1), _normal(2, 6)),
    "chunk_empty": (lambda L, x: x.chunk(3), np.zeros((0, 2))),
    "split_int": (lambda L, x: x.split(2, dim=1), _normal(3, 5)),
    "split_sizes": (lambda L, x: L.split(x, [1, 0, 3]), _normal(4, 2)),
    "repeat": (lambda L, x: x.repeat(2, 3), _normal(2, 3)),
    "repeat_new_dims": (lambda L, x: x.repeat(2, 1, 2), _normal(3)),
    "repeat_0d": (lambda L, x: x.repeat(3), np.array(1.5)),
    "type_cast": (lambda L, x: (x.type(L.float32), x.type("torch.DoubleTensor"), x.type(L.long)),
                  np.array([1.5, -2.7])),
    "type_as": (lambda L, x, y: x.type_as(y), np.array([1.5, -2.7]), np.array([1, 2])),
    "log1p_expm1": (lambda L, x: (x.log1p(), x.expm1(), L.log1p(x), L.expm1(x)),
                    np.array([1e-10, 0.5, 2.0, -0.5])),
    "sin_cos": (lambda L, x: (x.sin(), x.cos(), L.sin(x), L.cos(x)), _normal(3, 4)),
    "square_rsqrt_reciprocal": (lambda L, x: (x.square(), x.rsqrt(), x.reciprocal(),
                                              L.square(x), L.rsqrt(x), L.reciprocal(x)),
                                np.array([0.5, 2.0, 3.0])),
    "int_square_rsqrt_reciprocal": (lambda L, x: (x.square(), x.rsqrt(), x.reciprocal()),
                                    np.array([1, 2, 4])),
    "bool_square": (lambda L, x: x.square(), MASK),
    "step_functions_have_zero_gradient": (
        lambda L, x: (x.sign(), x.floor(), x.ceil(), x.round(), x.trunc(), x.round(decimals=1),
                      L.round(x, decimals=-1), L.sign(x), L.floor(x), L.ceil(x), L.trunc(x)),
        np.array([-2.5, -1.25, -0.5, 0.0, 0.5, 1.5, 2.5, 14.75])),
    "sign_nan": (lambda L, x: x.sign(), np.array([NAN, -0.0, 3.0])),
    "step_functions_of_integers": (lambda L, x: (x.sign(), x.floor(), x.ceil(), x.round(),
                                                 x.trunc()), np.array([-3, 0, 2])),
    "amax_amin_ties_share_the_gradient": (
        lambda L, x: (x.amax(1), x.amin(0, keepdim=True), x.amax(), L.amax(x, (0, 1)),
                      L.amin(x)), TIES),
    "amax_of_nan_has_torchs_nan_gradient": (lambda L, x: (x.amax(1), x.amin(1)),
                                            np.array([[1.0, NAN, 3.0, NAN], [1.0, 2.0, 2.0, 0.0]])),
    "all_any": (lambda L, x: (x.all(), x.any(), x.all(1), x.any(0, keepdim=True),
                              L.all(x, dim=1), L.any(x)), ZEROS),
    "all_any_empty": (lambda L, x: (x.all(), x.any()), np.zeros((0, 3))),
    "all_any_bool": (lambda L, x: (x.all(0), x.any(1)), MASK),
    "cumsum": (lambda L, x: (x.cumsum(1), L.cumsum(x, dim=0)), _normal(3, 4)),
    "cumsum_int32_gives_int64": (lambda L, x: (x.cumsum(0), x.cumsum(0, dtype=L.float64)),
                                 np.array([1, 2, 3], dtype=np.int32)),
    "cumsum_bool": (lambda L, x: x.cumsum(1), MASK),
    "prod": (lambda L, x: (x.prod(), x.prod(1), x.prod(0, keepdim=True)), _normal(3, 4)),
    "prod_zeros_exact_gradient": (lambda L, x: (x.prod(1), x.prod(0), x.prod()), ZEROS),
    "prod_int32_gives_int64": (lambda L, x: (x.prod(), L.prod(x, 0, dtype=L.float64)),
                               np.array([2, 3, 4], dtype=np.int32)),
    "tril_triu": (lambda L, x: (x.tril(), x.triu(1), L.tril(x, -1), L.triu(x, diagonal=-2)),
                  _normal(2, 4, 3)),
    "tril_int": (lambda L, x: x.tril(), np.arange(9).reshape(3, 3)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_method_matches_torch(name):
    expr, *arrays = CASES[name]
    assert_matches_torch(expr, *arrays)


def test_prod_gradient_at_exact_zeros_matches_centered_differences():
    # prod is a polynomial, so centered differences are exact at zeros too: rows with no, one
    # and two zeros take each branch of Prod's backward
    cot = np.random.default_rng(3).standard_normal(3)
    result = tg.gradcheck(lambda x: (x.prod(1) * tg.tensor(cot)).sum(),
                          tg.tensor(ZEROS[[2, 0, 1]], requires_grad=True))
    assert result.passed, str(result)
    result = tg.gradcheck(lambda x: x.prod(), tg.tensor(ZEROS[0], requires_grad=True))
    assert result.passed, str(result)


def test_sort_and_topk_return_named_tuples_like_torch():
    x = tg.tensor([3.0, 1.0, 2.0])
    values, indices = x.sort()
    assert x.sort().values is not None and x.sort().indices.tolist() == [1, 2, 0]
    assert values.tolist() == [1.0, 2.0, 3.0] and x.topk(1)._fields == ("values", "indices")


def test_split_and_chunk_return_tuples_of_views_whose_gradients_add_up():
    x = tg.tensor(_normal(5), requires_grad=True)
    pieces = x.split(2)
    assert isinstance(pieces, tuple) and [p.shape for p in pieces] == [(2,), (2,), (1,)]
    (pieces[0].sum() * 2 + pieces[2].sum()).backward()
    assert x.grad.tolist() == [2.0, 2.0, 0.0, 0.0, 1.0]


def test_new_factories_take_self_dtype_unless_told():
    x = tg.tensor([1, 2], dtype=tg.int32)
    tx = torch.tensor([1, 2], dtype=torch.int32)
    pairs = [(x.new_zeros(2, 3), tx.new_zeros(2, 3)), (x.new_ones((2,)), tx.new_ones((2,))),
             (x.new_full((2,), 7), tx.new_full((2,), 7)),
             (x.new_tensor([1.7, -2.2]), tx.new_tensor([1.7, -2.2])),
             (x.new_zeros(2, dtype=tg.float64), tx.new_zeros(2, dtype=torch.float64))]
    for ours, theirs in pairs:
        assert _dtype_name(ours) == _dtype_name(theirs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    w = tg.zeros(2).new_ones(3, requires_grad=True)
    assert w.requires_grad and w.dtype == np.float32
    src = tg.tensor([1.0, 2.0])
    copy = src.new_tensor(src)
    copy[0] = 5.0
    assert src.tolist() == [1.0, 2.0]  # new_tensor copies, as torch


def test_sizes_and_types_answer_as_torch():
    for arr in (np.zeros((2, 3), np.float32), np.zeros(4, np.int64), np.zeros(3, np.bool_),
                np.zeros(2, np.float64), np.zeros(2, np.int32), np.zeros(2, np.uint8)):
        ours, theirs = tg.tensor(arr), torch.tensor(arr)
        assert ours.nelement() == theirs.nelement() and ours.numel() == theirs.numel()
        assert ours.element_size() == theirs.element_size()
        assert ours.type() == theirs.type()
        assert ours.is_cuda is theirs.is_cuda is False


def test_format_of_a_0d_tensor_is_the_number_as_in_torch():
    loss = (tg.tensor([1.23456, 2.0], requires_grad=True) * 2).sum()
    tloss = (torch.tensor([1.23456, 2.0], requires_grad=True) * 2).sum()
    assert f"{loss:.4f}" == f"{tloss:.4f}" == "6.4691"
    assert f"{tg.tensor(3):d}" == f"{torch.tensor(3):d}" == "3"
    assert f"{tg.tensor(True)}" == f"{torch.tensor(True)}" == "True"
    assert f"{tg.tensor(0.5):>8.2e}" == f"{torch.tensor(0.5):>8.2e}"
    assert f"{tg.ones(2)}" == str(tg.ones(2))  # an empty spec formats as str()
    for ours, theirs in ((tg.ones(2), torch.ones(2)),
                         (tg.nn.Parameter(tg.tensor(1.0)), torch.nn.Parameter(torch.tensor(1.0)))):
        with pytest.raises(TypeError):
            format(theirs, ".2f")
        with pytest.raises(TypeError, match="unsupported format string"):
            format(ours, ".2f")


def test_index_lets_a_one_element_integer_tensor_index_a_list_as_in_torch():
    names = ["cat", "dog", "bird"]
    for value in (tg.tensor(2), tg.tensor([1]), tg.tensor(True), tg.tensor(1, dtype=tg.int32)):
        theirs = torch.tensor(value.numpy())
        assert names[value] == names[theirs]
    assert list(range(tg.tensor(3))) == [0, 1, 2]
    assert names[tg.tensor([5, 1, 3]).argmin()] == "dog"
    for bad in (tg.tensor(2.0), tg.tensor([1, 2])):
        with pytest.raises(TypeError):
            names[torch.tensor(bad.numpy())]
        with pytest.raises(TypeError, match="only integer tensors of a single element"):
            names[bad]


# ---------------------------------------------------------------- errors, as torch's types

ERRORS = {
    "t_of_3d": lambda L: L.ones(2, 2, 2).t(),
    "mT_of_1d": lambda L: L.ones(3).mT,
    "mm_of_vectors": lambda L: L.ones(3).mm(L.ones(3, 1)),
    "bmm_batch_mismatch": lambda L: L.ones(2, 3, 4).bmm(L.ones(3, 4, 1)),
    "flip_repeated_dim": lambda L: L.ones(3).flip(0, 0),
    "flip_bad_dim": lambda L: L.ones(3).flip(1),
    "norm_nuc_of_vector": lambda L: L.ones(3).norm(p="nuc"),
    "norm_of_integers": lambda L: L.tensor([1, 2]).norm(),
    "norm_bad_dim": lambda L: L.ones(3).norm(dim=2),
    "gather_out_of_bounds": lambda L: L.ones(3).gather(0, L.tensor([3])),
    "gather_negative_index": lambda L: L.ones(3).gather(0, L.tensor([-1])),
    "gather_float_index": lambda L: L.ones(3).gather(0, L.tensor([1.0])),
    "gather_ndim_mismatch": lambda L: L.ones(3, 2).gather(0, L.tensor([1])),
    "gather_index_too_large": lambda L: L.ones(2, 2).gather(0, L.tensor([[1, 0, 1]])),
    "gather_bad_dim": lambda L: L.ones(3).gather(1, L.tensor([0])),
    "scatter_add_dtype_mismatch": lambda L: L.ones(3).scatter_add(0, L.tensor([0]),
                                                                  L.tensor([1.0], dtype=L.float64)),
    "scatter_add_out_of_bounds": lambda L: L.ones(3).scatter_add(0, L.tensor([4]), L.ones(1)),
    "topk_k_too_large": lambda L: L.ones(3).topk(4),
    "topk_bad_dim": lambda L: L.ones(3).topk(1, dim=1),
    "sort_bad_dim": lambda L: L.ones(3).sort(dim=-2),
    "sort_stable_is_keyword_only": lambda L: L.ones(3).sort(0, False, True),
    "masked_fill_int_mask": lambda L: L.ones(3).masked_fill(L.tensor([1, 0, 1]), 2.0),
    "masked_fill_1d_value": lambda L: L.ones(3).masked_fill(L.tensor([True]), L.ones(1)),
    "split_sizes_wrong_sum": lambda L: L.ones(3).split([1, 1]),
    "split_size_zero": lambda L: L.ones(4).split(0),
    "chunk_zero": lambda L: L.ones(3).chunk(0),
    "repeat_too_few_sizes": lambda L: L.ones(3, 2).repeat(2),
    "cumsum_bad_dim": lambda L: L.ones(3).cumsum(1),
    "prod_bad_dim": lambda L: L.ones(3).prod(1),
    "amax_bad_dim": lambda L: L.ones(3).amax(2),
    "amax_of_empty": lambda L: L.ones(0).amax(),
    "all_bad_dim": lambda L: L.ones(3).all(1),
    "tril_of_vector": lambda L: L.ones(3).tril(),
    "triu_of_0d": lambda L: L.tensor(1.0).triu(),
    "multinomial_negative": lambda L: L.multinomial(L.tensor([0.5, -1.0]), 1),
    "multinomial_nan": lambda L: L.multinomial(L.tensor([0.5, NAN]), 1),
    "multinomial_zero_sum": lambda L: L.multinomial(L.tensor([0.0, 0.0]), 1),
    "multinomial_too_many": lambda L: L.multinomial(L.tensor([1.0, 1.0]), 3),
    "multinomial_3d": lambda L: L.multinomial(L.ones(2, 2, 2), 1),
    "randperm_negative": lambda L: L.randperm(-1),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_bad_arguments_raise_torchs_error_type(name):
    expr = ERRORS[name]
    with pytest.raises(Exception) as theirs:
        expr(torch)
    with pytest.raises(theirs.type):
        expr(tg)


# ---------------------------------------------------------------- namespace


def test_dtype_aliases_are_torchs_dtypes_as_numpy_dtypes():
    for name in ("float", "float32", "double", "float64", "long", "int64", "int", "int32", "bool",
                 "half", "float16", "uint8", "int8", "int16"):
        assert np.dtype(getattr(tg, name)).name == str(getattr(torch, name)).removeprefix("torch.")
    assert tg.zeros(2, dtype=tg.double).dtype == tg.float64
    assert tg.tensor([1, 2]).dtype == tg.long and tg.tensor([True]).dtype == tg.bool
    assert tg.ones(2).long().dtype == tg.long and tg.ones(2).int().dtype == tg.int


def test_the_dtype_aliases_shadow_no_builtin_inside_the_package():
    import tinygrad_c2.tensor

    for module in (tinygrad_c2.tensor, functions, tinygrad_c2.function, tinygrad_c2.device):
        for name in ("float", "int", "bool"):
            assert name not in vars(module), f"{module.__name__} binds {name}"
    assert tg.float is tg.float32 and tg.int is tg.int32 and tg.bool is np.bool_


@pytest.mark.parametrize("make", [
    lambda: tg.tensor([1.0], dtype=tg.half),
    lambda: tg.zeros(2, dtype=tg.float16),
    lambda: tg.Tensor(np.ones(2, np.float16)),
    lambda: tg.from_numpy(np.ones(2, np.float16)),
    lambda: tg.ones(2).to(tg.half),
    lambda: tg.ones(2, requires_grad=True).type(tg.float16),
    lambda: tg.ones(2).new_zeros(2, dtype=tg.half),
    lambda: tg.ones(2).half(),
])
def test_float16_is_refused_where_it_is_used_naming_the_alternative(make):
    with pytest.raises(TypeError, match="float16 .* not supported.*tg.float32"):
        make()


def test_randperm_is_a_permutation_reproduced_by_manual_seed_and_by_a_generator():
    ours, theirs = tg.randperm(10), torch.randperm(10)
    assert _dtype_name(ours) == _dtype_name(theirs) == "int64"
    assert sorted(ours.tolist()) == list(range(10))
    assert _dtype_name(tg.randperm(3, dtype=tg.float64)) == "float64"
    assert tg.randperm(0).shape == (0,)
    tg.manual_seed(5)
    a = tg.randperm(20)
    tg.manual_seed(5)
    assert tg.equal(a, tg.randperm(20))
    g = tg.Generator().manual_seed(3)
    b = tg.randperm(20, generator=g)
    assert tg.equal(b, tg.randperm(20, generator=tg.Generator().manual_seed(3)))


def test_multinomial_draws_in_proportion_and_without_replacement_never_repeats():
    tg.manual_seed(0)
    probs = tg.tensor([0.2, 0.0, 0.8])
    draws = tg.multinomial(probs, 20000, replacement=True)
    assert draws.dtype == tg.long and draws.shape == (20000,)
    counts = np.bincount(draws.numpy(), minlength=3) / 20000
    assert counts[1] == 0 and abs(counts[0] - 0.2) < 0.02 and abs(counts[2] - 0.8) < 0.02
    rows = tg.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 5.0, 0.0, 1.0]])
    picks = rows.multinomial(2)
    assert picks.shape == (2, 2) and len(set(picks[0].tolist())) == 2
    assert set(picks[1].tolist()) == {1, 3}
    # without replacement, the zero-weight categories come only after every other (torch too)
    assert tg.multinomial(tg.tensor([0.0, 1.0, 1.0]), 3)[2].item() == 0
    assert torch.multinomial(torch.tensor([0.0, 1.0, 1.0]), 3)[2].item() == 0
    # first draws follow the weights: category 1 of [1, 9] comes first about 90% of the time
    firsts = [tg.multinomial(tg.tensor([1.0, 9.0]), 2)[0].item() for _ in range(2000)]
    assert abs(np.mean(firsts) - 0.9) < 0.03
    a = tg.multinomial(rows, 2, generator=tg.Generator().manual_seed(1))
    assert tg.equal(a, tg.multinomial(rows, 2, generator=tg.Generator().manual_seed(1)))


def test_data_parallel_passes_through_with_torchs_names():
    tg.manual_seed(0)
    inner = tg.nn.Linear(3, 2)
    model = tg.nn.DataParallel(inner, device_ids=[0])
    tmodel = torch.nn.DataParallel(torch.nn.Linear(3, 2))
    assert model.module is inner and tg.nn.parallel.DataParallel is tg.nn.DataParallel
    assert list(model.state_dict()) == list(tmodel.state_dict()) == ["module.weight",
                                                                     "module.bias"]
    assert all(p is q for p, q in zip(model.parameters(), inner.parameters(), strict=True))
    x = tg.randn(4, 3)
    assert tg.equal(model(x), inner(x))
    assert model.module.weight is inner.weight  # attribute access goes through .module
    with pytest.raises(RuntimeError, match="one process"):
        tg.nn.parallel.DistributedDataParallel(inner)


def test_cuda_seeding_and_cudnn_flags_are_harmless_no_ops():
    tg.cuda.manual_seed_all(0)
    tg.cuda.manual_seed(0)
    tg.backends.cudnn.deterministic = True
    tg.backends.cudnn.benchmark = False
    assert tg.backends.cudnn.deterministic is True


def test_a_captured_step_replays_the_new_ops_as_the_eager_step():
    w = tg.tensor(_normal(3, 4), requires_grad=True)
    rows = tg.tensor([[0], [1], [2], [3], [0]])

    def loss(X):
        h = X @ w
        total = h.sort(1).values[:, -2:].sum() + h.topk(2, dim=0).values.sum()
        total = total + h.gather(1, rows).sum() + h.cumsum(1).prod(1).sum() * 0.01
        total = total + h.norm(3, dim=1).sum() + h.amax(0).sum() + h.sin().cos().log1p().sum()
        total = total + h.masked_fill(h > 0, 0.0).sum() + h.tril().repeat(2, 1).sum()
        total = total + h.flip(0).floor().sum() + h.expm1().square().mean()
        return total + h.scatter_add(0, tg.tensor([[1, 0, 0, 1]]), h[:1]).sum()

    step = tg.capture(loss)
    for seed in range(3):  # the trace, then replays on new data
        X = _normal(5, 3, seed=seed + 1)
        w.grad = None
        replayed = step(X).item()
        replay_grad = w.grad.numpy().copy()
        w.grad = None
        eager = loss(tg.tensor(X))
        eager.backward()
        assert replayed == eager.item()
        np.testing.assert_array_equal(replay_grad, w.grad.numpy())

"""nn.Embedding / F.embedding and nn.LayerNorm / F.layer_norm against PyTorch in float64."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn

F = nn.functional
torch = pytest.importorskip("torch")
TF = torch.nn.functional

IDX = np.array([[1, 3, 1, 1], [0, 4, 3, 1]])


@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 1}, {"padding_idx": -2},
                                    {"scale_grad_by_freq": True},
                                    {"scale_grad_by_freq": True, "padding_idx": 0},
                                    {"max_norm": 1.0}, {"max_norm": 0.5, "norm_type": 1.0}])
def test_embedding_values_gradient_and_renorm_match_torch(kwargs):
    w = np.random.default_rng(0).standard_normal((6, 3)) * 2
    W, TW = tg.tensor(w.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    y, ty = F.embedding(tg.tensor(IDX), W, **kwargs), TF.embedding(torch.tensor(IDX), TW, **kwargs)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    cot = np.random.default_rng(1).standard_normal(y.shape)
    (y * cot).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(W.grad.numpy(), TW.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(W.numpy(), TW.detach().numpy(), rtol=1e-12)  # max_norm's renorm


def test_repeated_indices_accumulate_and_the_padding_row_gets_no_gradient():
    emb = nn.Embedding(4, 2, padding_idx=2)
    emb(tg.tensor([2, 0, 0, 2, 0])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy(), [[3, 3], [0, 0], [0, 0], [0, 0]])


def test_embedding_module_init_is_standard_normal_with_the_padding_row_zeroed():
    tg.manual_seed(0)
    emb = nn.Embedding(1000, 50, padding_idx=-1)
    w = emb.weight.numpy()
    assert emb.padding_idx == 999 and not w[999].any()
    assert abs(w[:999].mean()) < 0.01 and abs(w[:999].std() - 1) < 0.01
    assert w.dtype == np.float32 and emb.weight.requires_grad
    assert repr(emb) == repr(torch.nn.Embedding(1000, 50, padding_idx=-1))
    assert repr(nn.Embedding(5, 2, max_norm=1.0, scale_grad_by_freq=True)) == \
        repr(torch.nn.Embedding(5, 2, max_norm=1.0, scale_grad_by_freq=True))


def test_from_pretrained_shares_the_weight_and_freezes_it_by_default():
    w = np.arange(6.0).reshape(3, 2)
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad and emb.weight.numpy() is w
    np.testing.assert_array_equal(emb(tg.tensor([2])).numpy(), [[4.0, 5.0]])
    trainable = nn.Embedding.from_pretrained(tg.tensor(w), freeze=False, padding_idx=0)
    assert trainable.weight.requires_grad and trainable.weight.numpy()[0].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="expected to be 2-dimensional"):
        nn.Embedding.from_pretrained(np.zeros(3))


def test_a_torch_embedding_state_dict_loads():
    temb = torch.nn.Embedding(7, 3, padding_idx=0)
    emb = nn.Embedding(7, 3, padding_idx=0)
    emb.load_state_dict({k: v.detach().numpy() for k, v in temb.state_dict().items()})
    idx = np.array([[0, 6, 2]])
    np.testing.assert_array_equal(emb(tg.tensor(idx)).numpy(),
                                  temb(torch.tensor(idx)).detach().numpy())


def test_bad_embedding_input_names_the_index_and_the_size():
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"index 12 is out of range for num_embeddings=10"):
        emb(tg.tensor([1, 12]))
    with pytest.raises(IndexError, match=r"index -1 is out of range for num_embeddings=10"):
        emb(tg.tensor([-1]))
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices' to have one "
                                           "of the following scalar types: Long, Int"):
        emb(tg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(10, 3, padding_idx=10)
    with pytest.raises(ValueError, match="does not match num_embeddings and embedding_dim"):
        nn.Embedding(10, 3, _weight=np.zeros((3, 3)))
    with pytest.raises(NotImplementedError, match="sparse=True"):
        nn.Embedding(10, 3, sparse=True)


def test_embedding_then_lstm_trains_end_to_end():
    tg.manual_seed(0)
    emb, lstm, head = nn.Embedding(5, 4), nn.LSTM(4, 8, batch_first=True), nn.Linear(8, 5)
    params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
    opt = tg.optim.Adam(params, lr=0.05)
    seq = tg.tensor(np.array([[0, 1, 2, 3, 4, 0, 1, 2]]))
    losses = []
    for _ in range(60):
        opt.zero_grad()
        out, _ = lstm(emb(seq[:, :-1]))
        loss = F.cross_entropy(head(out).reshape(-1, 5), seq[0, 1:])
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 < losses[0]


# ---------------------------------------------------------------- layer norm


@pytest.mark.parametrize("shape, normalized", [((4, 5), (5,)), ((2, 3, 5), (5,)),
                                               ((2, 3, 4), (3, 4)), ((6,), (6,))])
@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, False)])
def test_layer_norm_module_matches_torch(shape, normalized, affine, bias):
    tln = torch.nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias,
                             dtype=torch.float64)
    with torch.no_grad():
        for p in tln.parameters():
            p.copy_(torch.randn(p.shape, dtype=torch.float64))
    ln = nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias, dtype=tg.float64)
    ln.load_state_dict({k: v.detach().numpy().copy() for k, v in tln.state_dict().items()})
    assert repr(ln) == repr(tln)
    x = np.random.default_rng(0).standard_normal(shape) * 3 + 5
    X, TX = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ln(X), tln(TX)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = np.random.default_rng(1).standard_normal(shape)
    (y * cot).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), TX.grad.numpy(), rtol=1e-9, atol=1e-12)
    tp = dict(tln.named_parameters())
    for name, p in ln.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-9, atol=1e-12)


def test_layer_norm_is_stable_for_a_large_mean_in_float32():
    x = (np.random.default_rng(0).standard_normal((4, 64)) + 1e4).astype(np.float32)
    ours = F.layer_norm(tg.tensor(x), 64).numpy()
    exact = TF.layer_norm(torch.tensor(x, dtype=torch.float64), (64,)).numpy()
    np.testing.assert_allclose(ours, exact, atol=2e-3)


def test_layer_norm_gradcheck_passes():
    x = tg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    w = tg.tensor(np.random.default_rng(1).standard_normal(4), requires_grad=True)
    b = tg.tensor(np.random.default_rng(2).standard_normal(4), requires_grad=True)
    cot = np.random.default_rng(3).standard_normal((3, 4))
    result = tg.gradcheck(lambda x, w, b: (F.layer_norm(x, (4,), w, b, eps=1e-3) * cot).sum(),
                          [x, w, b])
    assert result.passed, str(result)


def test_layer_norm_of_the_wrong_shape_says_what_it_expected():
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[3, 4\], expected input "
                                           r"with shape \[\*, 3, 4\], but got input of size"
                                           r" \[2, 4, 3\]"):
        nn.LayerNorm((3, 4))(tg.zeros(2, 4, 3))
    with pytest.raises(RuntimeError, match=r"weight has shape \(3,\), expected the "
                                           r"normalized_shape \(4,\)"):
        F.layer_norm(tg.zeros(2, 4), 4, weight=tg.ones(3))


def test_a_captured_step_with_embedding_and_layer_norm_replays_equal_to_eager():
    def build():
        tg.manual_seed(0)
        model = nn.ModuleList([nn.Embedding(6, 4, padding_idx=0), nn.LayerNorm(4),
                               nn.GRU(4, 5, batch_first=True), nn.Linear(5, 6)])
        return model, tg.optim.Adam(model.parameters(), lr=0.01)

    def step_fn(model):
        emb, norm, gru, head = model

        def step(tokens, target):
            out, _ = gru(norm(emb(tokens)))
            return F.cross_entropy(head(out).reshape(-1, 6), target.reshape(-1))
        return step

    gen = np.random.default_rng(0)
    batches = [(gen.integers(0, 6, (3, 5)), gen.integers(0, 6, (3, 5))) for _ in range(3)]
    model, opt = build()
    eager = []
    for tokens, target in batches:
        opt.zero_grad()
        loss = step_fn(model)(tg.tensor(tokens), tg.tensor(target))
        loss.backward()
        opt.step()
        eager.append((loss.item(), [p.numpy().copy() for p in model.parameters()]))
    model, opt = build()
    step = tg.capture(step_fn(model), optimizer=opt)
    for (tokens, target), (loss, params) in zip(batches, eager, strict=True):
        assert step(tg.tensor(tokens), tg.tensor(target)).item() == loss
        for p, q in zip(model.parameters(), params, strict=True):
            np.testing.assert_array_equal(p.numpy(), q)

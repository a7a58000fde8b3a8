"""tg.reference against the tinygrad_c2 autograd: same weights, data and masks, float64."""

import numpy as np
import pytest
from test_reference_helpers import FEATURES, draw_masks, make_data, make_net, relative

from tinygrad_c2 import reference
from tinygrad_c2.reference import from_model, to_model

tg = pytest.importorskip("tinygrad_c2")
nn = pytest.importorskip("tinygrad_c2.nn")
optim = pytest.importorskip("tinygrad_c2.optim")
F = nn.functional

TOL = 1e-10


def twin_model(net):
    """The tinygrad_c2 nn.Sequential with the reference's layers and a copy of its weights."""
    layers = []
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    for layer in range(1, net.L + 1):
        n_out, n_in = net.parameters[f"W{layer}"].shape
        layers.append(nn.Linear(n_in, n_out, bias=f"b{layer}" in net.parameters))
        if layer < net.L:
            if net.batch_norm[layer]:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(act[net.activation[layer]]())
            if net.keep_prob[layer] < 1.0:
                layers.append(nn.Dropout(1.0 - net.keep_prob[layer]))
    model = nn.Sequential(*layers).double()
    to_model(net, model)
    return model


def autograd_loss(model, net, X, Y):
    out = model(tg.Tensor(X))
    if net.output == "softmax":
        loss = F.cross_entropy(out, tg.Tensor(Y))
    else:
        loss = F.binary_cross_entropy_with_logits(out, tg.Tensor(Y))
    if net.lambd:
        loss = loss + nn.l2_penalty(model, net.lambd, X.shape[0])
    return loss


@pytest.mark.parametrize("feature", FEATURES)
def test_reference_and_autograd_agree_on_loss_and_every_gradient(feature):
    net = make_net(**FEATURES[feature])
    X, Y = make_data(net)
    model = twin_model(net)
    tg.manual_seed(11)
    loss = autograd_loss(model, net, X, Y)
    loss.backward()
    J, grads = net.loss_and_grads(X, Y, draw_masks(net, len(X), np.random.default_rng(11)))
    assert abs(loss.item() - J) <= TOL * abs(J)
    params = list(model.parameters())
    assert len(params) == len(grads)
    for (name, g), p in zip(grads.items(), params, strict=True):
        assert relative(g, p.grad.numpy()) < TOL, name
    bns = [m for m in model if isinstance(m, nn.BatchNorm1d)]
    for layer, bn in zip(sorted(net.running_mean), bns, strict=True):
        assert relative(net.running_mean[layer], bn.running_mean.numpy()) < TOL
        assert relative(net.running_var[layer], bn.running_var.numpy()) < TOL


def optimizers(kind, params):
    if kind == "gd":
        return reference.GD(0.1), optim.SGD(params, lr=0.1)
    if kind == "momentum":
        return reference.Momentum(0.1, beta=0.9), optim.Momentum(params, lr=0.1, beta=0.9)
    if kind == "rmsprop":
        return reference.RMSprop(0.01, alpha=0.9), optim.RMSprop(params, lr=0.01, alpha=0.9)
    return (reference.Adam(0.01, beta1=0.9, beta2=0.99),
            optim.Adam(params, lr=0.01, betas=(0.9, 0.99)))


@pytest.mark.parametrize("kind", ["gd", "momentum", "rmsprop", "adam"])
def test_reference_and_autograd_agree_over_twenty_optimizer_steps(kind):
    net = make_net(batch_norm=True, keep_prob=0.8, lambd=0.1)
    X, Y = make_data(net)
    model = twin_model(net)
    opt, tg_opt = optimizers(kind, list(model.parameters()))
    for step in range(20):
        tg.manual_seed(step)
        tg_opt.zero_grad()
        autograd_loss(model, net, X, Y).backward()
        tg_opt.step()
        net.train_step(X, Y, opt, draw_masks(net, len(X), np.random.default_rng(step)))
    for (name, p), q in zip(net.parameters.items(), model.parameters(), strict=True):
        assert relative(p, q.numpy()) < TOL, name


def test_reference_draws_the_same_dropout_masks_as_the_autograd_from_the_library_generator():
    net = make_net(keep_prob=[0.7, 0.5])
    X, Y = make_data(net)
    model = twin_model(net)
    tg.manual_seed(3)
    loss = autograd_loss(model, net, X, Y)
    tg.manual_seed(3)
    net.rng = None  # draw from tinygrad_c2.rng.generator()
    AL, caches = net.forward(X)
    assert net.cost(caches, Y) == pytest.approx(loss.item(), rel=TOL)


def test_from_model_then_to_model_round_trips_a_tinygrad_model():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6, bias=False), nn.BatchNorm1d(6), nn.Sigmoid(),
                          nn.Dropout(0.25), nn.Linear(6, 1), nn.Sigmoid())
    net = from_model(model)
    assert net.output == "sigmoid" and net.keep_prob[1] == 0.75 and net.activation[1] == "sigmoid"
    assert net.dtype == model[0].weight.dtype
    before = [p.numpy().copy() for p in model.parameters()]
    for p in net.parameters.values():
        p += 1.0
    net.running_var[1][:] = 3.0
    to_model(net, model)
    for old, p in zip(before, model.parameters(), strict=True):
        np.testing.assert_allclose(p.numpy(), old + 1.0, rtol=1e-6)
    np.testing.assert_array_equal(model[1].running_var.numpy(), 3.0)

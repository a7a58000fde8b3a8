"""tg.reference against PyTorch on the same weights: loss, gradients, running stats, optimizers."""

import numpy as np
import pytest
from test_reference_helpers import FEATURES, draw_masks, make_data, make_net, relative

from tinygrad_c2.reference import GD, Adam, Momentum, RMSprop, from_model, to_model

torch = pytest.importorskip("torch")
F = torch.nn.functional


class TorchTwin:
    """The same MLP written with torch primitives (leaf tensors copied from the reference)."""

    def __init__(self, net):
        self.net = net
        self.params = {name: torch.tensor(p, requires_grad=True)
                       for name, p in net.parameters.items()}
        self.running_mean = {k: torch.tensor(v) for k, v in net.running_mean.items()}
        self.running_var = {k: torch.tensor(v) for k, v in net.running_var.items()}

    def loss(self, X, Y, masks, training=True):
        net, p = self.net, self.params
        A = torch.tensor(X)
        for layer in range(1, net.L + 1):
            Z = F.linear(A, p[f"W{layer}"], p.get(f"b{layer}"))
            if layer == net.L:
                break
            if net.batch_norm[layer]:
                Z = F.batch_norm(Z, self.running_mean[layer], self.running_var[layer],
                                 p[f"gamma{layer}"], p[f"beta{layer}"], training=training,
                                 momentum=net.bn_momentum, eps=net.bn_eps)
            A = {"relu": torch.relu, "tanh": torch.tanh,
                 "sigmoid": torch.sigmoid}[net.activation[layer]](Z)
            if training and layer in masks:
                A = A * torch.tensor(masks[layer])
        if net.output == "softmax":
            J = F.cross_entropy(Z, torch.tensor(Y))
        else:
            J = F.binary_cross_entropy_with_logits(Z, torch.tensor(Y))
        m = X.shape[0]
        l2 = sum((p[f"W{layer}"] ** 2).sum() for layer in range(1, net.L + 1))
        return J + net.lambd / (2 * m) * l2

    def grads(self):
        return {"d" + name: t.grad.numpy() for name, t in self.params.items()}


@pytest.mark.parametrize("feature", FEATURES)
def test_loss_gradients_and_running_stats_match_torch(feature):
    net = make_net(**FEATURES[feature])
    X, Y = make_data(net)
    masks = draw_masks(net, X.shape[0], np.random.default_rng(2))
    twin = TorchTwin(net)
    J_torch = twin.loss(X, Y, masks)
    J_torch.backward()
    J, grads = net.loss_and_grads(X, Y, masks)
    assert J == pytest.approx(J_torch.item(), rel=1e-13)
    assert list(grads) == list(twin.grads())
    for name, g in twin.grads().items():
        assert relative(grads[name], g) < 1e-12, name
    for layer in net.running_mean:
        assert relative(net.running_mean[layer], twin.running_mean[layer].numpy()) < 1e-13
        assert relative(net.running_var[layer], twin.running_var[layer].numpy()) < 1e-13


def test_eval_mode_matches_torch_with_running_statistics():
    net = make_net(batch_norm=True, keep_prob=0.5)
    X, Y = make_data(net)
    net.forward(X)  # one training forward moves the running statistics
    twin = TorchTwin(net)
    net.eval()
    J_torch = twin.loss(X, Y, {}, training=False)
    J_torch.backward()
    J, grads = net.loss_and_grads(X, Y)
    assert J == pytest.approx(J_torch.item(), rel=1e-13)
    for name, g in twin.grads().items():
        assert relative(grads[name], g) < 1e-12, name


def torch_optimizer(kind, params):
    if kind == "gd":
        return GD(0.1), torch.optim.SGD(params, lr=0.1)
    if kind == "momentum":
        # The course's v = beta v + (1 - beta) g, W -= lr v is torch's buf = beta buf + g
        # (first buf = g) with the learning rate lr * (1 - beta): v = (1 - beta) buf.
        return Momentum(0.1, beta=0.9), torch.optim.SGD(params, lr=0.1 * (1 - 0.9), momentum=0.9)
    if kind == "rmsprop":
        return RMSprop(0.01, alpha=0.9, eps=1e-8), torch.optim.RMSprop(params, lr=0.01, alpha=0.9)
    return (Adam(0.01, beta1=0.9, beta2=0.99, eps=1e-8),
            torch.optim.Adam(params, lr=0.01, betas=(0.9, 0.99), eps=1e-8))


@pytest.mark.parametrize("kind", ["gd", "momentum", "rmsprop", "adam"])
def test_twenty_optimizer_steps_match_torch(kind):
    net = make_net(batch_norm=True, keep_prob=0.8, lambd=0.1)
    X, Y = make_data(net)
    twin = TorchTwin(net)
    opt, torch_opt = torch_optimizer(kind, list(twin.params.values()))
    rng = np.random.default_rng(3)
    for _ in range(20):
        masks = draw_masks(net, X.shape[0], rng)
        torch_opt.zero_grad()
        twin.loss(X, Y, masks).backward()
        torch_opt.step()
        net.train_step(X, Y, opt, masks)
    for name, p in net.parameters.items():
        assert relative(p, twin.params[name].detach().numpy()) < 1e-10, name
    for layer in net.running_var:
        assert relative(net.running_var[layer], twin.running_var[layer].numpy()) < 1e-10


def test_course_momentum_is_not_torch_sgd_with_dampening_beta():
    # torch's first momentum step stores buf = g without dampening, the course's v = (1-beta) g.
    w = {"W1": np.ones(3)}
    t = torch.ones(3, dtype=torch.float64, requires_grad=True)
    torch_opt = torch.optim.SGD([t], lr=0.1, momentum=0.9, dampening=0.9)
    t.grad = torch.ones(3, dtype=torch.float64)
    torch_opt.step()
    Momentum(0.1, beta=0.9).step(w, {"dW1": np.ones(3)})
    assert not np.allclose(w["W1"], t.detach().numpy())


def torch_sequential(batch_norm, p=0.2, dtype=torch.float64):
    nn = torch.nn
    torch.manual_seed(0)
    layers = [nn.Linear(5, 8, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(8))
    layers += [nn.Tanh(), nn.Dropout(p), nn.Linear(8, 3)]
    return nn.Sequential(*layers).to(dtype)


def test_from_model_reads_a_torch_sequential_and_matches_its_training_loss():
    model = torch_sequential(batch_norm=True)
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.normal_()
    net = from_model(model)
    assert (net.L, net.activation[1], net.output, net.keep_prob[1]) == (2, "tanh", "softmax", 0.8)
    assert "b1" not in net.parameters and "gamma1" in net.parameters
    X, Y = make_data(net)
    model.eval()  # no dropout on the torch side; compare in training mode without dropout
    net.keep_prob[1] = 1.0
    model[1].train()
    out = model(torch.tensor(X))
    J_torch = F.cross_entropy(out, torch.tensor(Y))
    J_torch.backward()
    J, grads = net.loss_and_grads(X, Y)
    assert J == pytest.approx(J_torch.item(), rel=1e-13)
    for (name, g), param in zip(grads.items(), model.parameters(), strict=True):
        assert relative(g, param.grad.numpy()) < 1e-12, name
    np.testing.assert_allclose(net.running_var[1], model[1].running_var.numpy(), rtol=1e-13)


def test_from_model_follows_float32_and_to_model_writes_back_in_place():
    model = torch_sequential(batch_norm=False, dtype=torch.float32)
    net = from_model(model)
    assert net.dtype == np.float32 and net.output == "softmax"
    assert net.keep_prob[1] == pytest.approx(0.8)
    weight = model[0].weight
    net.parameters["W1"] += 1.0
    net.parameters["b2"][:] = 7.0
    to_model(net, model)
    assert model[0].weight is weight
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), net.parameters["W1"])
    np.testing.assert_array_equal(model[-1].bias.detach().numpy(), 7.0)


def test_from_model_rejects_layers_it_cannot_express():
    nn = torch.nn
    with pytest.raises(ValueError, match="needs an activation"):
        from_model(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1)))
    with pytest.raises(ValueError, match="expected a Linear first"):
        from_model(nn.Sequential(nn.ReLU(), nn.Linear(4, 1)))
    with pytest.raises(ValueError, match="expected nothing or one Dropout"):
        from_model(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.ReLU(), nn.Linear(4, 1)))
    with pytest.raises(ValueError, match="followed by one of"):
        from_model(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1), nn.Tanh()))

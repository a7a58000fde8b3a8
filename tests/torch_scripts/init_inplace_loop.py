"""Weight initialisation and a training loop written with in-place ops, as older tutorials
and many research scripts do: weight.copy_, bias.zero_(), p.data.add_, p.grad.zero_()."""

import numpy as np
import torch
from torch import nn

rng = np.random.default_rng(0)
X = torch.from_numpy(rng.normal(0, 1, (128, 3)).astype(np.float32))
y = (X[:, :1] * 2.0 - X[:, 1:2] + 0.5 * X[:, 2:] ** 2).detach()

model = nn.Sequential(nn.Linear(3, 10), nn.Tanh(), nn.Linear(10, 1))
init = np.random.default_rng(1)
with torch.no_grad():
    for layer in (model[0], model[2]):
        W = init.normal(0.0, (1.0 / layer.in_features) ** 0.5, tuple(layer.weight.shape))
        layer.weight.copy_(torch.from_numpy(W))  # copies and casts float64 -> float32
        layer.bias.zero_()
    model[2].bias.fill_(0.1)
print("init", f"{model[0].weight.sum().item():.4f}", model[0].bias.abs().sum().item(),
      model[2].bias.item() == np.float32(0.1), model[0].weight.dtype == torch.float32)

lr = 0.05
for step in range(1, 301):
    loss = ((model(X) - y) ** 2).mean()
    loss.backward()
    for p in model.parameters():
        p.data.add_(p.grad.data, alpha=-lr)  # the pre-optimizer idiom
        p.grad.zero_()
    if step % 100 == 0:
        print(f"step {step}  loss {loss.item():.5f}")

# the in-place rules: a leaf that requires grad cannot be changed outside no_grad ...
try:
    model[0].weight.mul_(2.0)
except RuntimeError:
    print("in-place on a leaf that requires grad: RuntimeError")
# ... and changing a tensor a backward still needs is caught when backward runs
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
b = a * 2.0
c = b.sigmoid()
c.mul_(1.0)  # b.sigmoid() saved its output c
try:
    c.sum().backward()
except RuntimeError:
    print("modified a saved tensor: RuntimeError at backward")

w = model[2].weight
with torch.no_grad():
    w.clamp_(-0.5, 0.5)
    w.div_(2.0).sub_(0.01)
print("clamped", f"{w.max().item():.4f}", f"{w.min().item():.4f}", w.requires_grad, w.is_leaf)

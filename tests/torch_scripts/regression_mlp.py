"""Fit a fixed polynomial target with a small MLP, in the manner of pytorch/examples'
regression: polynomial features, a hand-rolled batch loop, smooth L1 loss, SGD."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

POLY_DEGREE = 4
W_target = torch.tensor([[0.5], [-1.2], [0.8], [0.3]])
b_target = torch.tensor([0.7])


def make_features(x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)


def f(x):
    """Approximated function."""
    return x @ W_target + b_target.item()


def poly_desc(W, b):
    """Creates a string description of a polynomial."""
    result = "y = "
    for i, w in enumerate(W):
        result += f"{w:+.2f} x^{i + 1} "
    result += f"{b[0]:+.2f}"
    return result


rng = np.random.default_rng(0)
xs = torch.tensor(rng.uniform(-1.0, 1.0, 256), dtype=torch.float32)
X = make_features(xs)
Y = f(X)
print("data", tuple(X.shape), tuple(Y.shape), f"{Y.mean().item():.4f}", f"{Y.std().item():.4f}")

model = nn.Sequential(nn.Linear(POLY_DEGREE, 16), nn.ReLU(), nn.Linear(16, 1))
init = np.random.default_rng(3)  # the same starting weights in every library
with torch.no_grad():
    for param in model.parameters():
        param.data = torch.tensor(init.normal(0.0, 0.4, tuple(param.shape)), dtype=torch.float32)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)

for epoch in range(1, 201):
    for i in range(0, 256, 32):
        batch_x, batch_y = X[i:i + 32], Y[i:i + 32]
        output = F.smooth_l1_loss(model(batch_x), batch_y)
        model.zero_grad()
        output.backward()
        optimizer.step()
    if epoch % 50 == 0:
        with torch.no_grad():
            full = F.mse_loss(model(X), Y).item()
        print(f"epoch {epoch:3d}  batch loss {output.item():.6f}  mse {full:.6f}")

probe = make_features(torch.tensor([-0.5, 0.0, 0.5]))
with torch.no_grad():
    print("predicted", [f"{v:.4f}" for v in model(probe).flatten().tolist()])
print("target   ", [f"{v:.4f}" for v in f(probe).flatten().tolist()])
print("==> Actual function:", poly_desc(W_target.view(-1).tolist(), b_target.tolist()))

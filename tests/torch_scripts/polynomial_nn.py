"""Fit y = sin(x) with nn.Linear on the features (x, x^2, x^3), trained by an optimizer."""

import math

import numpy as np
import torch
from torch import nn

x_np = np.linspace(-math.pi, math.pi, 2000)
x = torch.tensor(x_np, dtype=torch.float32)
y = torch.tensor(np.sin(x_np), dtype=torch.float32)

# the features (x, x^2, x^3) as a (2000, 3) tensor, by broadcasting
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
print("features", tuple(xx.shape), xx.dtype == torch.float32)

model = nn.Sequential(
    nn.Linear(3, 1),
    nn.Flatten(0, 1),
)


def start_weights():
    """Fixed starting weights, loaded the way a checkpoint is (fresh tensors each time)."""
    return {"0.weight": torch.tensor([[0.5, 0.0, -0.05]]), "0.bias": torch.tensor([0.1])}


loss_fn = nn.MSELoss(reduction="sum")

optimizers = {
    "SGD": lambda params: torch.optim.SGD(params, lr=1e-6, momentum=0.9),
    "Nesterov": lambda params: torch.optim.SGD(params, lr=1e-6, momentum=0.9, nesterov=True),
    "Adam": lambda params: torch.optim.Adam(params, lr=1e-3),
}
for name, make in optimizers.items():
    model.load_state_dict(start_weights())
    optimizer = make(model.parameters())
    for _ in range(1000):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    linear_layer = model[0]
    w = linear_layer.weight
    print(f"{name:8s} loss {loss.item():10.4f}  y = {linear_layer.bias.item():.4f} + "
          f"{w[:, 0].item():.4f} x + {w[:, 1].item():.4f} x^2 + {w[:, 2].item():.4f} x^3")
print(sum(p.numel() for p in model.parameters()), [n for n, _ in model.named_parameters()])

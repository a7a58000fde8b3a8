"""Fit y = sin(x) on [-pi, pi] with a cubic a + b x + c x^2 + d x^3, using autograd only:
the gradients come from loss.backward(), the update is written by hand under no_grad."""

import math

import numpy as np
import torch

dtype = torch.float32
device = torch.device("cpu")

x_np = np.linspace(-math.pi, math.pi, 2000)
x = torch.tensor(x_np, dtype=dtype, device=device)
y = torch.tensor(np.sin(x_np), dtype=dtype, device=device)

# fixed starting weights (not the library's random stream, so both libraries start alike)
a = torch.tensor(0.1, dtype=dtype, requires_grad=True)
b = torch.tensor(-0.2, dtype=dtype, requires_grad=True)
c = torch.tensor(0.3, dtype=dtype, requires_grad=True)
d = torch.tensor(-0.1, dtype=dtype, requires_grad=True)

learning_rate = 1e-6
for t in range(2000):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    if t % 400 == 399:
        print(t, f"{loss.item():.2f}")

    loss.backward()

    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad

        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None

print(f"Result: y = {a.item():.4f} + {b.item():.4f} x + {c.item():.4f} x^2 + {d.item():.4f} x^3")
print("leaf", a.is_leaf, a.requires_grad, a.grad is None)

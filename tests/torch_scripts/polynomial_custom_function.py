"""Fit y = sin(x) with a + b * P3(c + d x), where P3 is the Legendre polynomial of degree
three written as a custom autograd Function (forward and backward by hand, on Tensors)."""

import math

import numpy as np
import torch
from torch import optim


class LegendrePolynomial3(torch.autograd.Function):
    """P3(x) = (5 x^3 - 3 x) / 2, with P3'(x) = 1.5 (5 x^2 - 1)."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


dtype = torch.float32
x_np = np.linspace(-math.pi, math.pi, 2000)
x = torch.tensor(x_np, dtype=dtype)
y = torch.tensor(np.sin(x_np), dtype=dtype)

a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
d = torch.full((), 0.3, dtype=dtype, requires_grad=True)

optimizer = optim.SGD([a, b, c, d], lr=5e-6)
P3 = LegendrePolynomial3.apply
for t in range(2000):
    y_pred = a + b * P3(c + d * x)
    loss = (y_pred - y).pow(2).sum()
    if t % 500 == 499:
        print(t, f"{loss.item():.3f}")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

print(f"Result: y = {a.item():.4f} + {b.item():.4f} * P3({c.item():.4f} + {d.item():.4f} x)")
print("grad_fn is set:", y_pred.grad_fn is not None)

# the hand-written backward agrees with autograd through the same formula
z = torch.tensor([-0.5, 0.25, 1.5], requires_grad=True)
LegendrePolynomial3.apply(z).sum().backward()
by_hand = z.grad.tolist()
z.grad = None
(0.5 * (5 * z ** 3 - 3 * z)).sum().backward()
print([f"{g:.4f}" for g in by_hand], [f"{g:.4f}" for g in z.grad.tolist()])

"""A user Function the gradient-ownership tests share (eager: test_grad_ownership, replayed:
test_capture_ownership): its backward's result is a new array, so it declares fresh_grads."""

import numpy as np

import tinygrad_c2 as tg


class Triple(tg.Function):
    """y = 3 x; its backward's result is a new array (fresh_grads)."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x):
        return np.multiply(x, 3.0)

    @staticmethod
    def backward(ctx, g):
        return np.multiply(g, 3.0)

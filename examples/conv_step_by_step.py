"""Course 4, week 1, "Convolutional Neural Networks: Step by Step", number by number.

Runs tg.reference's hand-derived loops (zero_pad, conv_single_step, conv_forward, conv_backward,
pool_forward, create_mask_from_window, distribute_value, pool_backward) on the notebook's own
np.random.seed(1) inputs and prints each figure beside the one the notebook publishes, then
the same computation by tinygrad_c2's autograd (F.conv2d, F.max_pool2d, F.avg_pool2d in NCHW,
gradients by backward()) beside it. The one place the two rules differ, max-pool ties, is
shown last. Writes examples/images/conv_step_by_step.png (an image before and after padding,
a filter's output).
Run: python examples/conv_step_by_step.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import reference as ref
from tinygrad_c2.nn import functional as F

# The figures the course's notebook prints for its np.random.seed(1) inputs.
COURSE = {
    "conv_single_step Z": -6.99908945068,
    "conv_forward Z's mean": 0.0489952035289,
    "conv_forward Z[3,2,1][0]": -0.61490741,
    "conv_backward dA_mean": 1.45243777754,
    "conv_backward dW_mean": 1.72699145831,
    "conv_backward db_mean": 7.83923256462,
    "pool_forward max A[0]": [1.74481176, 0.86540763, 1.13376944],
    "pool_forward average A[0]": [0.02105773, -0.20328806, -0.40389855],
    "pool_backward max dA_prev[1,1][1]": [5.05844394, -1.68282702],
    "pool_backward average dA_prev[1,1][1]": [1.26461098, -0.25749373],
}


def show(name: str, ours, autograd=None) -> None:
    """One line: the figure, ours, and (when computed) the autograd's, to 8 decimals."""
    def fmt(v):
        v = np.asarray(v, dtype=np.float64)
        return f"{v.item():+.8f}" if v.ndim == 0 else "[" + ", ".join(f"{x:+.8f}" for x in v) + "]"

    line = f"{name:38} course {fmt(COURSE[name])}   reference {fmt(ours)}"
    if autograd is not None:
        line += f"   autograd {fmt(autograd)}"
    print(line)


def nchw(A: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(A.transpose(0, 3, 1, 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry: it is quick")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)

    np.random.seed(1)
    x = np.random.randn(4, 3, 3, 2)
    x_pad = ref.zero_pad(x, 2)
    print(f"zero_pad: x.shape = {x.shape}, x_pad.shape = {x_pad.shape} (course: (4, 7, 7, 2))")

    np.random.seed(1)
    a_slice_prev = np.random.randn(4, 4, 3)  # drawn in the notebook's order
    W1 = np.random.randn(4, 4, 3)
    b1 = np.random.randn(1, 1, 1)
    show("conv_single_step Z", ref.conv_single_step(a_slice_prev, W1, b1))

    # conv_forward / conv_backward: 10 images 4x4x3, 8 filters 2x2, pad 2, stride 2; the
    # notebook feeds Z back as dZ.
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    hparameters = {"pad": 2, "stride": 2}
    Z, cache = ref.conv_forward(A_prev, W, b, hparameters)
    dA, dW, db = ref.conv_backward(Z, cache)
    weight, bias = ref.to_torch_layout(W, b)
    x_t, w_t, b_t = (tg.tensor(a, requires_grad=True) for a in (nchw(A_prev), weight, bias))
    Z_t = F.conv2d(x_t, w_t, b_t, stride=2, padding=2)
    Z_t.backward(Z_t.detach())  # dZ = Z, as the notebook
    show("conv_forward Z's mean", Z.mean(), Z_t.numpy().mean())
    show("conv_forward Z[3,2,1][0]", Z[3, 2, 1, 0], Z_t.numpy()[3, 0, 2, 1])
    show("conv_backward dA_mean", dA.mean(), x_t.grad.numpy().mean())
    show("conv_backward dW_mean", dW.mean(), w_t.grad.numpy().mean())
    show("conv_backward db_mean", db.mean(), b_t.grad.numpy().mean())

    # pool_forward: 2 images 4x4x3, f = 3, stride 2
    np.random.seed(1)
    A_prev = np.random.randn(2, 4, 4, 3)
    for mode, pool in (("max", F.max_pool2d), ("average", F.avg_pool2d)):
        A, _ = ref.pool_forward(A_prev, {"stride": 2, "f": 3}, mode)
        show(f"pool_forward {mode} A[0]", A[0, 0, 0],
             pool(tg.tensor(nchw(A_prev)), 3, 2).numpy()[0, :, 0, 0])

    np.random.seed(1)
    window = np.random.randn(2, 3)
    print(f"create_mask_from_window: {ref.create_mask_from_window(window).astype(int).tolist()}"
          f"   (course: [[1, 0, 0], [0, 0, 0]])")
    print(f"distribute_value(2, (2, 2)) = {ref.distribute_value(2, (2, 2)).tolist()}"
          "   (course: [[0.5, 0.5], [0.5, 0.5]])")

    # pool_backward: 5 images 5x3x2, f = 2, stride 1 (overlapping windows)
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    hparameters = {"stride": 1, "f": 2}
    _, cache = ref.pool_forward(A_prev, hparameters)
    dA = np.random.randn(5, 4, 2, 2)
    for mode, pool in (("max", F.max_pool2d), ("average", F.avg_pool2d)):
        x_t = tg.tensor(nchw(A_prev), requires_grad=True)
        pool(x_t, 2, 1).backward(tg.tensor(nchw(dA)))
        show(f"pool_backward {mode} dA_prev[1,1][1]", ref.pool_backward(dA, cache, mode)[1, 1, 1],
             x_t.grad.numpy()[1, :, 1, 1])

    # Ties: the course's mask gives every tied maximum the whole gradient; PyTorch's rule (and
    # F.max_pool2d) gives it to the first maximum in row-major order only.
    tied = np.array([[1.0, 3.0], [3.0, 2.0]]).reshape(1, 2, 2, 1)
    _, cache = ref.pool_forward(tied, {"stride": 2, "f": 2})
    course = ref.pool_backward(np.ones((1, 1, 1, 1)), cache)[0, :, :, 0]
    x_t = tg.tensor(nchw(tied), requires_grad=True)
    F.max_pool2d(x_t, 2).sum().backward()
    print(f"max-pool tie [[1, 3], [3, 2]]: course's mask -> {course.tolist()}, "
          f"autograd (PyTorch's rule) -> {x_t.grad.numpy()[0, 0].tolist()}")

    try:
        from tinygrad_c2.train import plots

        fig, axes = plots.new_figure(1, 3, size=(11, 3.6))
        axes = axes[0]
        axes[0].imshow(x[0, :, :, 0])
        axes[0].set_title("x[0] (channel 0)")
        axes[1].imshow(x_pad[0, :, :, 0])
        axes[1].set_title("zero_pad(x, 2)[0]")
        axes[2].imshow(Z[0, :, :, 0])
        axes[2].set_title("conv_forward Z[0], filter 0")
        path = args.images / "conv_step_by_step.png"
        args.images.mkdir(parents=True, exist_ok=True)
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

"""Per-op overhead: tinygrad_c2 vs the bare numpy call vs PyTorch eager, on small arrays, plus one
training step of the course's tiny MLP. Implementations are interleaved within each block
(A B C A B C ...) so machine noise hits them alike; medians over blocks are reported.

    python benchmarks/bench_ops.py [--blocks 5] [--seconds 0.3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import tinygrad_c2 as tg

F = tg.nn.functional

try:
    import torch

    torch.set_num_threads(1)
except ImportError:
    torch = None


def _calls_per_block(fn: Callable[[], object], seconds: float) -> int:
    """How many calls fill `seconds`, from a short calibration run."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.02:
        fn()
        n += 1
    return max(1, int(n * seconds / 0.02))


def measure(impls: dict[str, Callable[[], object]], blocks: int, seconds: float
            ) -> dict[str, list[float]]:
    """Per-call times (seconds) of each implementation, one entry per block, interleaved."""
    counts = {name: _calls_per_block(fn, seconds / len(impls)) for name, fn in impls.items()}
    times: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(blocks):
        for name, fn in impls.items():
            n = counts[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            times[name].append((time.perf_counter() - start) / n)
    return times


def op_cases() -> dict[str, dict[str, Callable[[], object]]]:
    """Each small op as numpy, tinygrad_c2 (forward + backward where it has one) and torch."""
    gen = np.random.default_rng(0)
    a = gen.standard_normal((64, 64), dtype=np.float32)
    b = gen.standard_normal((64, 64), dtype=np.float32)
    labels = gen.integers(0, 64, 64)
    ta, tb = tg.Tensor(a), tg.Tensor(b)
    cases: dict[str, dict[str, Callable[[], object]]] = {
        "add 64x64": {"numpy": lambda: a + b, "tinygrad_c2": lambda: ta + tb},
        "matmul 64x64": {"numpy": lambda: a @ b, "tinygrad_c2": lambda: ta @ tb},
        "relu 64x64": {"numpy": lambda: np.maximum(a, 0), "tinygrad_c2": lambda: ta.relu()},
        "sum 64x64": {"numpy": lambda: a.sum(), "tinygrad_c2": lambda: ta.sum()},
        "softmax-CE 64x64": {
            "numpy": lambda: _numpy_softmax_ce(a, labels),
            "tinygrad_c2": lambda: F.cross_entropy(ta, labels),
        },
    }
    if torch is not None:
        xa, xb, xl = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(labels)
        cases["add 64x64"]["torch"] = lambda: xa + xb
        cases["matmul 64x64"]["torch"] = lambda: xa @ xb
        cases["relu 64x64"]["torch"] = lambda: torch.relu(xa)
        cases["sum 64x64"]["torch"] = lambda: xa.sum()
        cases["softmax-CE 64x64"]["torch"] = lambda: torch.nn.functional.cross_entropy(xa, xl)
    return cases


def _numpy_softmax_ce(z: np.ndarray, y: np.ndarray) -> float:
    shifted = z - z.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def tiny_mlp_steps() -> dict[str, Callable[[], object]]:
    """One SGD step of the course's 2-20-7-5-1 sigmoid MLP with BCE, batch 64, float32."""
    gen = np.random.default_rng(1)
    dims = [2, 20, 7, 5, 1]
    X = gen.standard_normal((64, 2), dtype=np.float32)
    Y = (gen.random((64, 1)) < 0.5).astype(np.float32)
    W = [(gen.standard_normal((o, i)) * np.sqrt(1 / i)).astype(np.float32)
         for i, o in zip(dims, dims[1:], strict=False)]
    B = [np.zeros(o, np.float32) for o in dims[1:]]
    lr = np.float32(0.01)

    nW, nB = [w.copy() for w in W], [b.copy() for b in B]

    def numpy_step() -> float:
        A, inputs = X, []  # inputs[l] = the activation that layer l multiplies
        for w, b in zip(nW, nB, strict=True):
            inputs.append(A)
            A = 1 / (1 + np.exp(-(A @ w.T + b)))
        loss = -(Y * np.log(A) + (1 - Y) * np.log(1 - A)).mean()
        dZ = (A - Y) / X.shape[0]  # sigmoid + BCE: the closed form
        for layer in reversed(range(len(nW))):
            A_prev = inputs[layer]
            dW, db = dZ.T @ A_prev, dZ.sum(axis=0)
            if layer:
                dZ_prev = (dZ @ nW[layer]) * A_prev * (1 - A_prev)  # sigmoid' = A (1 - A)
            nW[layer] -= lr * dW
            nB[layer] -= lr * db
            if layer:
                dZ = dZ_prev
        return loss

    tW = [tg.Tensor(w.copy(), requires_grad=True) for w in W]
    tB = [tg.Tensor(b.copy(), requires_grad=True) for b in B]
    tX, tY = tg.Tensor(X), tg.Tensor(Y)

    def tinygrad_step() -> float:
        h = tX
        for w, b in zip(tW, tB, strict=True):
            h = F.linear(h, w, b).sigmoid()
        loss = F.binary_cross_entropy(h, tY)
        for p in (*tW, *tB):
            p.grad = None
        loss.backward()
        for p in (*tW, *tB):
            p.data -= lr * p.grad.data
        return loss

    steps = {"numpy (hand-derived)": numpy_step, "tinygrad_c2": tinygrad_step}
    if torch is not None:
        xW = [torch.tensor(w, requires_grad=True) for w in W]
        xB = [torch.tensor(b, requires_grad=True) for b in B]
        xX, xY = torch.from_numpy(X), torch.from_numpy(Y)

        def torch_step() -> object:
            h = xX
            for w, b in zip(xW, xB, strict=True):
                h = torch.sigmoid(torch.nn.functional.linear(h, w, b))
            loss = torch.nn.functional.binary_cross_entropy(h, xY)
            for p in (*xW, *xB):
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in (*xW, *xB):
                    p -= lr * p.grad
            return loss

        steps["torch"] = torch_step
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.3, help="per block and case")
    args = parser.parse_args()

    rows = []
    for case, impls in {**op_cases(), "tiny MLP step": tiny_mlp_steps()}.items():
        for fn in impls.values():  # warm up
            for _ in range(20):
                fn()
        times = measure(impls, args.blocks, args.seconds)
        base = statistics.median(next(iter(times.values())))
        for name, ts in times.items():
            med = statistics.median(ts)
            rows.append((case, name, med * 1e6, min(ts) * 1e6, max(ts) * 1e6, med / base))
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}; "
          f"{args.blocks} interleaved blocks, medians")
    print("| case | implementation | median µs | min–max µs | × numpy |")
    print("|---|---|---:|---:|---:|")
    for case, name, med, lo, hi, ratio in rows:
        print(f"| {case} | {name} | {med:.2f} | {lo:.2f}–{hi:.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()

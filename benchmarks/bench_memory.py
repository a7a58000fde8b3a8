"""Graph memory of one kept loss: an MNIST-sized step (784-256-128-10, batch 128, float32),
plain and with batch norm + dropout, tinygrad_c2 vs PyTorch, before and after backward.

"Held by the graph" is what a user keeps alive by keeping `loss` (e.g. appending it to a list
instead of loss.item()), beyond the parameters, their gradients and the input batch:
- ours: tracemalloc's traced bytes with the loss alive, minus those before the forward, minus
  the gradients' bytes after backward (numpy allocates through tracemalloc's hooks);
- PyTorch: its CPU allocator is invisible to tracemalloc, so we sum the distinct storage bytes
  of the tensors autograd saves (torch.autograd.graph.saved_tensors_hooks), leaving out the
  parameters and the input batch, and, after backward, of those saved tensors still alive.
  Torch's graph nodes themselves are not counted (a few hundred bytes each); ours are.

Last, the issue's case: 300 training steps, each on a fresh copy of the batch, with every
loss kept in a list (ours: tracemalloc, gradients left out; PyTorch: the growth of the
process's resident memory, so its allocator's caching adds noise of a few MiB).

The run first checks that both frameworks compute the same loss from the same weights. It
prints the bytes and the ratio ours / torch. Run: python benchmarks/bench_memory.py
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
import weakref
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_c2 as tg  # noqa: E402
from tinygrad_c2 import nn  # noqa: E402

DIMS, BATCH = (784, 256, 128, 10), 128


def build_ours(batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(DIMS[:-1], DIMS[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(DIMS) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(nn.ReLU())
            if batch_norm:
                layers.append(nn.Dropout(0.2))
    return nn.Sequential(*layers)


def build_torch(torch, ours: nn.Sequential):
    """The same architecture with our weights copied in."""
    layers = []
    for module in ours:
        if isinstance(module, nn.Linear):
            layer = torch.nn.Linear(module.in_features, module.out_features)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(module.weight.numpy()))
                layer.bias.copy_(torch.from_numpy(module.bias.numpy()))
        elif isinstance(module, nn.BatchNorm1d):
            layer = torch.nn.BatchNorm1d(module.num_features)
        elif isinstance(module, nn.ReLU):
            layer = torch.nn.ReLU()
        else:
            layer = torch.nn.Dropout(module.p)
        layers.append(layer)
    return torch.nn.Sequential(*layers)


def ours_held(model: nn.Sequential, X: tg.Tensor, y: tg.Tensor) -> tuple[int, int, float]:
    """(bytes before backward, bytes after backward, loss) held by one kept loss."""
    F = nn.functional
    model.zero_grad()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        loss = F.cross_entropy(model(X), y)
        before = tracemalloc.get_traced_memory()[0] - base
        loss.backward()
        gc.collect()
        grads = sum(p.grad.numpy().nbytes for p in model.parameters())
        after = tracemalloc.get_traced_memory()[0] - base - grads
    finally:
        tracemalloc.stop()
    return before, after, loss.item()


def torch_held(torch, model, X, y) -> tuple[int, int, float]:
    """(bytes before backward, bytes after backward, loss): distinct saved storages."""
    excluded = {p.untyped_storage().data_ptr() for p in model.parameters()}
    excluded.add(X.untyped_storage().data_ptr())
    saved: dict[int, tuple[int, weakref.ref]] = {}

    class Holder:  # what autograd keeps for a saved tensor; a weakref tells if it is freed
        def __init__(self, t):
            self.t = t

    def pack(t):
        holder = Holder(t)
        storage = t.untyped_storage()
        if storage.data_ptr() not in excluded:
            saved.setdefault(id(holder), (storage.data_ptr(), storage.nbytes(),
                                          weakref.ref(holder)))
        return holder

    def live_bytes() -> int:
        storages = {ptr: n for ptr, n, ref in saved.values() if ref() is not None}
        return sum(storages.values())

    model.zero_grad()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda holder: holder.t):
        loss = torch.nn.functional.cross_entropy(model(X), y)
    before = live_bytes()
    loss.backward()
    gc.collect()
    return before, live_bytes(), loss.item()


KEPT = 300


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def ours_kept(model: nn.Sequential, X: np.ndarray, y: np.ndarray) -> int:
    """Bytes held by KEPT losses, each from a step on a fresh copy of the batch."""
    F = nn.functional
    target = tg.tensor(y)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = []
        for _ in range(KEPT):
            model.zero_grad()
            loss = F.cross_entropy(model(tg.tensor(X.copy())), target)
            loss.backward()
            kept.append(loss)
        gc.collect()
        grads = sum(p.grad.numpy().nbytes for p in model.parameters())
        return tracemalloc.get_traced_memory()[0] - base - grads
    finally:
        tracemalloc.stop()


def torch_kept(torch, model, X: np.ndarray, y: np.ndarray) -> int | None:
    """Growth of resident memory over KEPT kept losses (None where /proc is missing)."""
    try:
        _rss()
    except OSError:
        return None
    target = torch.from_numpy(y)
    gc.collect()
    base = _rss()
    kept = []
    for _ in range(KEPT):
        model.zero_grad(set_to_none=False)  # the gradients' memory stays where it was
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(X.copy())), target)
        loss.backward()
        kept.append(loss)
    gc.collect()
    return _rss() - base


def main() -> None:
    try:
        import torch
    except ImportError:
        raise SystemExit("bench_memory needs torch (pip install torch) to compare") from None
    rng = np.random.default_rng(0)
    X = rng.standard_normal((BATCH, DIMS[0])).astype(np.float32)
    y = rng.integers(0, DIMS[-1], BATCH)
    print(f"graph memory held by one kept loss, MLP {'-'.join(map(str, DIMS))}, batch {BATCH}, "
          "float32 (KiB)")
    print(f"{'model':<22} {'':>7} {'ours':>8} {'torch':>8} {'ours/torch':>10}")
    for batch_norm in (False, True):
        tg.manual_seed(0)
        ours = build_ours(batch_norm)
        theirs = build_torch(torch, ours)
        if batch_norm:  # dropout masks differ between the frameworks: compare in eval mode
            ours.eval()
            theirs.eval()
        with tg.no_grad():
            want = nn.functional.cross_entropy(ours(tg.tensor(X)), tg.tensor(y)).item()
        with torch.no_grad():
            got = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(X)),
                                                    torch.from_numpy(y)).item()
        assert abs(want - got) < 1e-5 * max(1.0, abs(want)), (want, got)
        ours.train()
        theirs.train()
        a_before, a_after, _ = ours_held(ours, tg.tensor(X), tg.tensor(y))
        b_before, b_after, _ = torch_held(torch, theirs, torch.from_numpy(X), torch.from_numpy(y))
        name = "+ batch norm, dropout" if batch_norm else "plain"
        for when, a, b in (("before", a_before, b_before), ("after", a_after, b_after)):
            ratio = f"{a / b:.2f}" if b else "n/a (0)"
            print(f"{name:<22} {when:>7} {a / 1024:>8.1f} {b / 1024:>8.1f} {ratio:>10}")
            name = ""
    params = sum(p.numpy().nbytes for p in build_ours(True).parameters())
    print(f"(parameters: {params / 1024:.0f} KiB; their gradients are not counted above)")
    tg.manual_seed(0)
    ours = build_ours(False)
    mine = ours_kept(ours, X, y)
    theirs = torch_kept(torch, build_torch(torch, ours), X, y)
    text = "n/a" if theirs is None else f"{theirs / 2**20:.1f} MiB (resident memory)"
    print(f"{KEPT} kept losses, plain: ours {mine / 2**20:.1f} MiB (traced), torch {text}")


if __name__ == "__main__":
    main()

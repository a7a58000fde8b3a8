"""A custom Dataset, a Sampler that shuffles with numpy, a collate_fn and a Subset, feeding a
linear softmax classifier; then input gradients with torch.autograd.grad, inference_mode."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, Dataset, Sampler, Subset


class Blobs(Dataset):
    """Four Gaussian blobs in 2-D; item i is (features, label)."""

    def __init__(self, n_per_class, seed):
        rng = np.random.default_rng(seed)
        centers = np.array([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]])
        self.x = np.concatenate([c + rng.normal(0, 0.9, (n_per_class, 2)) for c in centers])
        self.y = np.repeat(np.arange(4), n_per_class)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.tensor(self.x[i], dtype=torch.float32), int(self.y[i])


class NumpyShuffle(Sampler):
    """A new permutation each epoch from numpy's generator (the same in every library)."""

    def __init__(self, n, seed):
        self.n, self.rng = n, np.random.default_rng(seed)

    def __len__(self):
        return self.n

    def __iter__(self):
        return iter(self.rng.permutation(self.n).tolist())


def collate(batch):
    xs, ys = zip(*batch, strict=True)
    return torch.stack(xs), torch.tensor(ys)


data = Blobs(60, seed=0)
train = Subset(data, list(range(0, 240, 2)))
test = Subset(data, list(range(1, 240, 2)))
loader = DataLoader(train, batch_size=16, sampler=NumpyShuffle(len(train), 1), collate_fn=collate)
print("sizes", len(data), len(train), len(test), "batches", len(loader))
xb, yb = next(iter(loader))
print("batch", tuple(xb.shape), xb.dtype == torch.float32, yb.dtype == torch.int64)

model = nn.Linear(2, 4)
with torch.no_grad():
    model.weight.data = torch.tensor([[0.1, 0.2], [-0.2, 0.1], [0.0, -0.1], [0.1, 0.0]])
    model.bias.data = torch.zeros(4)
optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
for epoch in range(1, 16):
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb, label_smoothing=0.05)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if epoch % 5 == 0:
        print(f"epoch {epoch:2d}  last batch loss {loss.item():.4f}")

xt, yt = collate([test[i] for i in range(len(test))])
with torch.inference_mode():
    acc = (model(xt).argmax(1) == yt).float().mean().item()
print(f"test accuracy {acc:.3f}", "grad mode", torch.is_grad_enabled())

x = xt[:5].detach().requires_grad_()
nll = F.cross_entropy(model(x), yt[:5], reduction="sum")
(gx,) = torch.autograd.grad(nll, x)
print("input grads", [f"{v:.4f}" for v in gx.flatten().tolist()[:6]], x.grad is None)
with torch.set_grad_enabled(False):
    print("no graph", (model(x) * 2).requires_grad)

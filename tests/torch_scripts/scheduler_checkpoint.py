"""Learning-rate schedules (StepLR, OneCycleLR) on a small regression, then the usual
checkpoint round trip: torch.save(model.state_dict(), path) and load_state_dict(torch.load)."""

import os
import tempfile

import numpy as np
import torch
from torch import nn, optim

rng = np.random.default_rng(0)
X = torch.tensor(rng.uniform(-1, 1, (64, 4)), dtype=torch.float32)
true_w = torch.tensor([[1.5], [-2.0], [0.5], [3.0]])
y = X @ true_w + 0.25


def make_model():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    init = np.random.default_rng(1)  # the same starting weights in every library
    model.load_state_dict({
        "0.weight": torch.tensor(init.normal(0, 0.5, (8, 4)), dtype=torch.float32),
        "0.bias": torch.zeros(8),
        "2.weight": torch.tensor(init.normal(0, 0.5, (1, 8)), dtype=torch.float32),
        "2.bias": torch.zeros(1),
    })
    return model


def train(model, optimizer, scheduler, epochs, per_batch):
    lrs = []
    for _ in range(epochs):
        for i in range(0, 64, 16):
            loss = nn.functional.mse_loss(model(X[i:i + 16]), y[i:i + 16])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if per_batch:
                scheduler.step()
        if not per_batch:
            scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    return loss.item(), lrs


model = make_model()
optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
loss, lrs = train(model, optimizer, scheduler, 20, per_batch=False)
print(f"StepLR     loss {loss:.5f}  lr", " ".join(f"{lr:.4g}" for lr in lrs[::4]))
print("last_lr", [f"{v:.4g}" for v in scheduler.get_last_lr()])

model = make_model()
optimizer = optim.Adam(model.parameters(), lr=0.01)
scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, epochs=10, steps_per_epoch=4)
loss, lrs = train(model, optimizer, scheduler, 10, per_batch=True)
print(f"OneCycleLR loss {loss:.5f}  lr", " ".join(f"{lr:.4g}" for lr in lrs[::2]))

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "model.pt")
    torch.save(model.state_dict(), path)
    restored = make_model()
    restored.load_state_dict(torch.load(path))
    opt_path = os.path.join(tmp, "optim.pt")
    torch.save(optimizer.state_dict(), opt_path)
    optimizer2 = optim.Adam(restored.parameters(), lr=0.01)
    optimizer2.load_state_dict(torch.load(opt_path))

with torch.no_grad():
    same = torch.equal(model(X), restored(X))
step = optimizer2.state_dict()["state"][0]["step"]  # a 0-d tensor in torch, an int here
print("restored", same, sorted(restored.state_dict()), int(step))
print("lr after load", f"{optimizer2.param_groups[0]['lr']:.4g}",
      [tuple(v.shape) for v in restored.state_dict().values()])

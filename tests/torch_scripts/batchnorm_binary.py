"""Binary classification of two moons with BatchNorm1d and BCEWithLogitsLoss: train and eval
modes, running statistics, a weighted loss and the model's parameters and buffers."""

import math

import numpy as np
import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

rng = np.random.default_rng(0)
t = np.linspace(0.0, math.pi, 100)
upper = np.c_[np.cos(t), np.sin(t)]
lower = np.c_[1.0 - np.cos(t), 0.5 - np.sin(t)]
X = torch.tensor(np.r_[upper, lower] + rng.normal(0.0, 0.1, (200, 2)), dtype=torch.float32)
y = torch.tensor(np.r_[np.zeros(100), np.ones(100)], dtype=torch.float32).unsqueeze(1)
perm = torch.from_numpy(rng.permutation(200))
X, y = X[perm], y[perm]

# NOTE: no bias before a batch norm: the norm removes it, so its gradient is rounding noise
# that Adam would scale up to full steps (and two libraries' noise differs).
model = nn.Sequential(nn.Linear(2, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))
init = np.random.default_rng(2)
state = model.state_dict()
for name in ("0.weight", "3.weight"):
    state[name] = torch.tensor(init.normal(0, 0.6, tuple(state[name].shape)), dtype=torch.float32)
state["3.bias"] = torch.zeros(1)
model.load_state_dict(state)
print("parameters", [n for n, _ in model.named_parameters()])
print("buffers", [n for n, _ in model.named_buffers()])

criterion = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.5]))
optimizer = optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.01)
loader = DataLoader(TensorDataset(X, y), batch_size=40, drop_last=True)
for epoch in range(1, 41):
    model.train()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
    if epoch % 10 == 0:
        model.eval()
        with torch.no_grad():
            logits = model(X)
            acc = ((logits > 0).float() == y).float().mean().item()
            bce = nn.functional.binary_cross_entropy(torch.sigmoid(logits), y).item()
        print(f"epoch {epoch}  train loss {loss.item():.4f}  bce {bce:.4f}  accuracy {acc:.3f}")

bn = model[1]
print("running_mean", [f"{v:.3f}" for v in bn.running_mean[:4].tolist()])
print("running_var ", [f"{v:.3f}" for v in bn.running_var[:4].tolist()])
print("batches tracked", bn.num_batches_tracked.item(), "training", model.training, bn.training)

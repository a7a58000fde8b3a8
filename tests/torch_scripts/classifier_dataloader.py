"""A small classifier on three interleaved spirals: TensorDataset + DataLoader, an nn.Module,
CrossEntropyLoss and Adam, the usual train/eval loops, on whatever device is there."""

import numpy as np
import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

# three spirals of 100 points each, made with numpy's seeded generator
rng = np.random.default_rng(0)
n, classes = 100, 3
X_np = np.zeros((n * classes, 2), dtype=np.float32)
y_np = np.zeros(n * classes, dtype=np.int64)
for k in range(classes):
    r = np.linspace(0.0, 1.0, n)
    theta = np.linspace(k * 4.0, (k + 1) * 4.0, n) + rng.normal(0.0, 0.2, n)
    X_np[k * n:(k + 1) * n] = np.c_[r * np.sin(theta), r * np.cos(theta)]
    y_np[k * n:(k + 1) * n] = k
order = rng.permutation(n * classes)  # mix the classes once, so every batch has all three
X, y = torch.from_numpy(X_np[order]), torch.from_numpy(y_np[order])


class Net(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.fc1 = nn.Linear(2, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


model = Net().to(device)
# the same starting weights in every library (its own init draws from its own stream)
w = np.random.default_rng(1)
model.load_state_dict({
    "fc1.weight": torch.tensor(w.normal(0, 0.7, (32, 2)), dtype=torch.float32),
    "fc1.bias": torch.zeros(32),
    "fc2.weight": torch.tensor(w.normal(0, 0.2, (3, 32)), dtype=torch.float32),
    "fc2.bias": torch.zeros(3),
})
loader = DataLoader(TensorDataset(X, y), batch_size=50, shuffle=False)
criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=0.02)
print("batches", len(loader), "samples", len(loader.dataset))

for epoch in range(1, 61):
    model.train()
    total = 0.0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * inputs.size(0)
    if epoch % 15 == 0:
        model.eval()
        correct = 0
        with torch.no_grad():
            for inputs, targets in loader:
                pred = model(inputs.to(device)).argmax(dim=1)
                correct += (pred == targets.to(device)).sum().item()
        print(f"epoch {epoch:2d}  loss {total / len(loader.dataset):.4f}  "
              f"accuracy {correct / len(loader.dataset):.3f}")

with torch.no_grad():
    probs = torch.softmax(model(X[:4]), dim=1)
print("probs", [f"{v:.3f}" for v in probs[0].tolist()], "labels", y[:4].tolist())
print("device", device.type, next(model.parameters()).device)

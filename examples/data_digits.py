"""Train a small network on the shipped UCI digits with the course's data workflow.

Split 60/20/20 (stratified), standardize with training statistics only, mini-batches from
a shuffling DataLoader with light augmentation, Adam; report train and dev accuracy.
Run: python examples/data_digits.py
"""

import argparse

import numpy as np

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import (
    DataLoader,
    GaussianNoise,
    Standardizer,
    load_digits,
    train_dev_test_split,
)


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with tg.no_grad():
        predicted = model(tg.Tensor(X)).numpy().argmax(axis=1)
    model.train()
    return float((predicted == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 epochs instead of 30")
    parser.add_argument("--images", help="accepted for symmetry (this example draws nothing)")
    epochs = 10 if parser.parse_args().quick else 30
    tg.manual_seed(0)
    digits = load_digits()
    (X_train, y_train), (X_dev, y_dev), (X_test, y_test) = train_dev_test_split(
        digits.data, digits.target, (0.6, 0.2, 0.2), seed=0, stratify=True)
    scaler = Standardizer().fit(X_train)  # mu and sigma^2 from the training set only
    X_train, X_dev, X_test = (scaler.transform(X) for X in (X_train, X_dev, X_test))

    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader((X_train, y_train), batch_size=64, shuffle=True, seed=1,
                        transform=GaussianNoise(0.1, seed=2))  # augmentation: train only
    for epoch in range(1, epochs + 1):
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
        if epoch % 10 == 0:
            print(f"epoch {epoch:2d}  loss {total / len(y_train):.4f}  "
                  f"train acc {accuracy(model, X_train, y_train):.3f}  "
                  f"dev acc {accuracy(model, X_dev, y_dev):.3f}")
    print(f"test accuracy (looked at once, at the end): {accuracy(model, X_test, y_test):.3f}")


if __name__ == "__main__":
    main()

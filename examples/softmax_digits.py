"""Softmax regression (Course 2, week 3) on the shipped 8x8 digits.

The course's softmax example: z = [5, 2, -1, 3] gives t = e^z = [148.4, 7.4, 0.4, 20.1]
and a = t / sum(t) = [0.842, 0.042, 0.002, 0.114]. Softmax regression is one Linear layer
(64 pixels -> 10 classes) trained on the cross-entropy -sum_j y_j log a_j; with two classes
it reduces to logistic regression.
Run: python examples/softmax_digits.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import Standardizer, load_digits, train_dev_test_split
from tinygrad_c2.train import EarlyStopping, evaluate, fit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)

    z = tg.tensor([5.0, 2.0, -1.0, 3.0])
    a = ", ".join(f"{v:.3f}" for v in z.softmax(dim=0).numpy())
    print(f"softmax([5, 2, -1, 3]) = [{a}]   (course: [0.842, 0.042, 0.002, 0.114])")

    tg.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    (X_tr, y_tr), (X_dev, y_dev), (X_te, y_te) = train_dev_test_split(
        X, y, (0.6, 0.2, 0.2), seed=0, stratify=True)
    scaler = Standardizer().fit(X_tr)
    X_tr, X_dev, X_te = (scaler.transform(part) for part in (X_tr, X_dev, X_te))

    model = nn.Linear(64, 10)   # softmax regression: z = W x + b, a = softmax(z)
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01),
                  (X_tr, y_tr), (X_dev, y_dev), epochs=5 if args.quick else 60,
                  callbacks=[EarlyStopping("dev_loss", patience=8)], progress=False,
                  verbose=False)
    test = evaluate(model, nn.CrossEntropyLoss(), [(tg.Tensor(X_te), tg.Tensor(y_te))])
    print(f"softmax regression, {len(history)} epochs: train {history.final['train_accuracy']:.1%}"
          f"   dev {history.final['dev_accuracy']:.1%}   test {test['accuracy']:.1%}")
    print(f"diagnosis: {history.diagnosis}")

    with tg.no_grad():
        predicted = model(tg.Tensor(X_te)).numpy().argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (y_te, predicted), 1)
    off = confusion - np.diag(np.diag(confusion))
    true, guess = np.unravel_index(off.argmax(), off.shape)
    print(f"most frequent confusion on the test set: {true} read as {guess} "
          f"({off[true, guess]} times)")

    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(2, 6, size=(13, 4.6))
        weights = model.weight.numpy()
        for digit in range(10):
            ax = axes[digit // 5, digit % 5]
            ax.imshow(weights[digit].reshape(8, 8), cmap="RdBu_r")
            ax.set_title(f"W row {digit}", fontsize="small")
            ax.axis("off")
        gs = axes[0, 5].get_gridspec()
        for ax in (axes[0, 5], axes[1, 5]):
            ax.remove()
        ax = fig.add_subplot(gs[:, 5])
        ax.imshow(confusion, cmap="Blues")
        ax.set(title="test confusion", xlabel="predicted", ylabel="true",
               xticks=range(10), yticks=range(10))
        path = args.images / "softmax_digits.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

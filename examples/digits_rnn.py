"""Sequence classification: an LSTM reads each shipped 8x8 digit row by row (Course 5 week 1).

Each image becomes a sequence of T = 8 rows of 8 pixels (scaled to [0, 1]); an nn.LSTM with
batch_first=True reads the rows top to bottom and its last hidden state h_n goes through a
Linear layer to the 10 class scores (a many-to-one RNN, the course's sentiment-classifier
shape). Trained with Adam and clip_grad_norm_ on 60% of the digits, early-stopped on 20%, and
the test accuracy on the last 20% is looked at once, at the end. An nn.GRU runs the same way
for comparison.
Run: python examples/digits_rnn.py [--quick] [--images DIR]   (the picture is written in full
mode to examples/images/digits_rnn.png, in quick mode only when --images is given)
"""

import os

# NOTE: before numpy loads: 8 small GEMMs per sequence, which a second BLAS thread slows down.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tinygrad_c2 as tg  # noqa: E402
from tinygrad_c2 import nn, optim  # noqa: E402
from tinygrad_c2.data import load_digits, train_dev_test_split  # noqa: E402
from tinygrad_c2.train import Callback, EarlyStopping, evaluate, fit  # noqa: E402


class RowReader(nn.Module):
    """(batch, 64) pixels -> 8 rows of 8 -> LSTM/GRU -> last hidden state -> Linear(10)."""

    def __init__(self, cell: str = "lstm", hidden_size: int = 64):
        super().__init__()
        layer = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = layer(8, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 10)

    def forward(self, x):
        _, state = self.rnn(x.reshape(-1, 8, 8))
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM returns (h_n, c_n)
        return self.head(h_n[-1])


class ClipGradNorm(Callback):
    """Clip the gradient's total norm after backward, before the optimizer step."""

    def __init__(self, model, max_norm):
        self.params, self.max_norm = list(model.parameters()), max_norm

    def on_after_backward(self, state):
        nn.utils.clip_grad_norm_(self.params, self.max_norm)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    parser.add_argument("--images", type=Path, default=None,
                        help="folder for digits_rnn.png (default examples/images, not in --quick)")
    args = parser.parse_args(argv)
    images = args.images or (None if args.quick else Path(__file__).parent / "images")
    epochs = 3 if args.quick else 40

    X, y = load_digits(return_X_y=True, dtype="float32")
    X = X / 16.0  # pixel counts 0..16 -> [0, 1]
    (X_tr, y_tr), (X_dev, y_dev), (X_te, y_te) = train_dev_test_split(
        X, y, (0.6, 0.2, 0.2), seed=0, stratify=True)
    print(f"{len(X_tr)} train, {len(X_dev)} dev, {len(X_te)} test digits, each read as 8 rows "
          "of 8 pixels")
    histories = {}
    for cell in ("lstm", "gru"):
        tg.manual_seed(0)
        model = RowReader(cell)
        history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.005),
                      (X_tr, y_tr), (X_dev, y_dev), epochs=epochs, batch_size=64,
                      callbacks=[ClipGradNorm(model, 1.0),
                                 EarlyStopping("dev_loss", patience=6)],
                      progress=False, verbose=False)
        test = evaluate(model, nn.CrossEntropyLoss(), [(tg.Tensor(X_te), tg.Tensor(y_te))])
        histories[cell] = history
        final = history.final
        print(f"{cell.upper():4s} {len(history)} epochs: train {final['train_accuracy']:.1%}"
              f"   dev {final['dev_accuracy']:.1%}   test accuracy {test['accuracy']:.1%}")

    if images is None:
        return
    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(1, 2, size=(10, 3.6))
        for cell, history in histories.items():
            epochs_run = np.arange(1, len(history) + 1)
            for metric, ax in (("loss", axes[0, 0]), ("accuracy", axes[0, 1])):
                ax.plot(epochs_run, history[f"train_{metric}"], label=f"{cell} train")
                ax.plot(epochs_run, history[f"dev_{metric}"], "--", label=f"{cell} dev")
                ax.set(title=f"digits read row by row: {metric}", xlabel="epoch")
        axes[0, 0].legend(fontsize="small")
        path = images / "digits_rnn.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

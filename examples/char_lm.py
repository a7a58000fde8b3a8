"""Character-level language model of names (Course 5 week 1, "Dinosaur Island") with nn.LSTM.

The course trains a character RNN on dinosaur names with gradient clipping and samples new
names. Here a recurrent layer + Linear (tinygrad_c2/charlm.py) reads the shipped 1990 US Census
first names one character at a time and learns to predict the next one; the loss is the mean
cross-entropy per character (nats; a uniform guess over the 27 symbols costs ln 27 = 3.30).
1. The course's model, a basic nn.RNN with plain SGD and a large step, runs twice from the
   same initial weights and batches: with the gradient's total norm clipped by
   nn.utils.clip_grad_norm_ and without. Without clipping the gradient norm spikes and the
   loss climbs above the uniform guess; with it the same model learns.
2. An nn.LSTM trained with Adam (clipped too) gives the better model; new names are sampled
   from it with a seeded tg.Generator at two temperatures (a low temperature picks the likely
   letters, a high one explores).
Run: python examples/char_lm.py [--quick] [--images DIR]   (the picture is written in full
mode to examples/images/char_lm.png, in quick mode only when --images is given)
"""

import os

# NOTE: before numpy loads: one T-step sequence is T small GEMMs, which a second BLAS thread
# only slows down (and the machine the tests run on is shared).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tinygrad_c2 as tg  # noqa: E402
from tinygrad_c2.charlm import sample, split_names, train_char_lm  # noqa: E402

#: The clipping comparison: the course's basic RNN, SGD with a step large enough to explode.
RNN_SETTINGS = {"cell": "rnn", "hidden_size": 64, "optimizer": "sgd", "lr": 2.0}
MAX_NORM = 0.5
#: The model names are sampled from.
LSTM_SETTINGS = {"cell": "lstm", "hidden_size": 64, "optimizer": "adam", "lr": 0.01, "clip": 1.0}


def report(label, run):
    norms = np.asarray(run.grad_norms)
    print(f"{label:24s} train loss {np.mean(run.losses[-100:]):.3f}   dev loss "
          f"{run.dev_loss:.3f} nats/char   largest gradient norm {norms.max():.2f}, "
          f"{(norms > MAX_NORM).mean():.0%} of steps above {MAX_NORM}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    parser.add_argument("--images", type=Path, default=None,
                        help="folder for char_lm.png (default examples/images, not in --quick)")
    args = parser.parse_args(argv)
    images = args.images or (None if args.quick else Path(__file__).parent / "images")
    steps = 300 if args.quick else 3000

    train, dev = split_names(seed=0)
    print(f"{len(train)} training names, {len(dev)} dev names; {steps} steps of 32 names")
    runs = {}
    for label, clip in ((f"rnn, clip_grad_norm_({MAX_NORM})", MAX_NORM),
                        ("rnn, no clipping", None)):
        runs[label] = train_char_lm(train, steps=steps, clip=clip, seed=0, dev_names=dev,
                                    **RNN_SETTINGS)
        report(label, runs[label])
    lstm = train_char_lm(train, steps=steps, seed=0, dev_names=dev, **LSTM_SETTINGS)
    report("lstm + adam, clipped", lstm)

    model, vocab = lstm.model, lstm.vocab
    known = set(train) | set(dev)
    for temperature in (0.5, 1.0):
        generator = tg.Generator().manual_seed(1)
        names = [sample(model, vocab, generator, temperature) for _ in range(12)]
        new = sum(name not in known for name in names)
        print(f"sampled at temperature {temperature}: {', '.join(names)}  ({new} of 12 new)")

    if images is None:
        return
    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(1, 2, size=(11, 3.8))
        for label, run in runs.items():
            smooth = run.smoothed(50)
            axes[0, 0].plot(np.arange(len(smooth)) + 50, smooth, label=label)
            axes[0, 1].plot(run.grad_norms, label=label, linewidth=0.6)
        axes[0, 0].axhline(np.log(27), color="0.6", linestyle=":", label="uniform guess")
        axes[0, 0].set(title="basic RNN, SGD lr 2: loss (running mean of 50 steps)", xlabel="step",
                       ylabel="cross-entropy, nats/char")
        axes[0, 1].axhline(MAX_NORM, color="0.3", linestyle="--", label="max_norm")
        axes[0, 1].set(title="gradient norm before clipping", xlabel="step", yscale="log")
        for ax in axes[0]:
            ax.legend(fontsize="small")
        path = images / "char_lm.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

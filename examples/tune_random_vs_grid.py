"""The course's tuning advice, measured: sample on the right scale, and at random, not on a grid.

1. Scale. 10,000 learning rates in 1e-4..1: uniform sampling puts ~90% of them in 0.1..1;
   log-uniform sampling (r uniform in [-4, 0], lr = 10^r) gives each decade 25%. Same for
   beta in 0.9..0.999: a uniform beta puts 91% below 0.99, sampling 1 - beta on a log scale
   splits the trials evenly between "averages over 10..100 steps" and "100..1000 steps".
2. Random beats a grid at the same budget. The objective is real and cheap: a 2-16-16-2 tanh
   MLP trained with Adam for 20 epochs on 300 two-moons points (about 25 ms a trial),
   scored by its cross-entropy on 100 dev points. The two hyperparameters are the course's
   own example: the learning rate, which matters a lot, and Adam's epsilon (1e-10..1e-6),
   which hardly matters. A 5 x 5 grid therefore tries only 5 learning rates; 25 random
   trials try 25. Every trial starts from the same initial weights and sees the same
   mini-batches, so the differences come from the hyperparameters alone (a real search
   would seed each trial with config["seed"]). The random search is repeated with several
   search seeds to show that its win is not luck.

Writes examples/images/tune_scale.png, tune_random_vs_grid.png and tune_search.png when
matplotlib is installed. Run: python examples/tune_random_vs_grid.py [--quick]
"""

import argparse
import math
from pathlib import Path

import numpy as np
from _common import IMAGES, add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import make_moons, train_dev_test_split
from tinygrad_c2.train import fit
from tinygrad_c2.tune import (
    LogUniform,
    OneMinusLogUniform,
    Uniform,
    grid_search,
    plot_search,
    random_search,
)

BUDGET = 25  # trials: a 5 x 5 grid, or 25 random points
LR_RANGE, EPS_RANGE = (1e-4, 1.0), (1e-10, 1e-6)

(X_TRAIN, Y_TRAIN), (X_DEV, Y_DEV), _ = train_dev_test_split(
    *make_moons(400, noise=0.25, seed=0), ratios=(0.75, 0.25, 0.0), seed=0)
X_TRAIN, X_DEV = X_TRAIN.astype(np.float32), X_DEV.astype(np.float32)


def train_moons(config: dict) -> dict:
    """Dev loss and accuracy of the MLP trained with Adam(lr, eps) for 20 epochs."""
    tg.manual_seed(0)  # the same initial weights and mini-batches for every trial
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, 2))
    optimizer = optim.Adam(model.parameters(), lr=config["lr"], eps=config["eps"])
    history = fit(model, nn.CrossEntropyLoss(), optimizer, (X_TRAIN, Y_TRAIN), (X_DEV, Y_DEV),
                  epochs=20, batch_size=64, eval_train=False, progress=False, verbose=False)
    return {"dev_loss": history.final["dev_loss"], "dev_accuracy": history.final["dev_accuracy"]}


def decade_shares(values: np.ndarray, edges: list[float]) -> list[float]:
    counts, _ = np.histogram(values, bins=edges)
    return list(counts / len(values))


def show_scales(n: int) -> dict:
    rng = np.random.default_rng(0)
    uniform = np.array(Uniform(1e-4, 1.0).sample(rng, n))
    log = np.array(LogUniform(1e-4, 1.0).sample(rng, n))
    decades = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    print(f"1. Scale: share of {n:,} sampled learning rates in each decade of 1e-4..1")
    print("   decade           uniform   log-uniform")
    shares = zip(decade_shares(uniform, decades), decade_shares(log, decades), strict=True)
    for i, (u, g) in enumerate(shares):
        lo, hi = decades[i], decades[i + 1]
        print(f"   {f'{lo:g}..{hi:g}':<14}{100 * u:8.2f}%   {100 * g:9.2f}%")
    narrow = np.array(LogUniform(1e-4, 1e-1).sample(rng, n))
    thirds = decade_shares(narrow, decades[:4])
    print("   log-uniform on 1e-4..1e-1: " + ", ".join(f"{100 * s:.1f}%" for s in thirds)
          + " per decade")
    beta_uniform = np.array(Uniform(0.9, 0.999).sample(rng, n))
    beta_log = np.array(OneMinusLogUniform(0.9, 0.999).sample(rng, n))
    print("   beta             uniform   one-minus-log")
    for lo, hi in ((0.9, 0.99), (0.99, 0.999)):
        share_uniform = np.mean((beta_uniform >= lo) & (beta_uniform < hi))
        share_log = np.mean((beta_log >= lo) & (beta_log < hi))
        print(f"   {f'{lo:g}..{hi:g}':<14}{100 * share_uniform:8.1f}%   {100 * share_log:11.1f}%")
    return {"uniform": uniform, "log": log, "beta_uniform": beta_uniform, "beta_log": beta_log}


def compare_searches(repeats: int) -> tuple:
    grid_space = {"lr": LogUniform(*LR_RANGE).grid(5), "eps": LogUniform(*EPS_RANGE).grid(5)}
    space = {"lr": LogUniform(*LR_RANGE), "eps": LogUniform(*EPS_RANGE)}
    quiet = {"metric": "dev_loss", "mode": "min", "progress": False}
    grid = grid_search(train_moons, grid_space, seed=0, **quiet)
    randoms = [random_search(train_moons, space, BUDGET, seed=s, **quiet) for s in range(repeats)]

    print(f"\n2. Same budget ({BUDGET} trials), Adam on two moons: lr matters, eps hardly")
    lrs = {r["config"]["lr"] for r in grid.records}
    print(f"   grid 5 x 5: {len(lrs)} distinct learning rates "
          f"({', '.join(f'{v:g}' for v in sorted(lrs))})")
    best = grid.best
    spread = max(r["metrics"]["dev_loss"] for r in grid.records
                 if r["config"]["lr"] == best["config"]["lr"]) - best["metrics"]["dev_loss"]
    print(f"   grid best:   lr {best['config']['lr']:.3g}  dev loss "
          f"{best['metrics']['dev_loss']:.4f}  dev acc {best['metrics']['dev_accuracy']:.3f}"
          f"  (its 5 eps values change the dev loss by {spread:.1e})")
    print(f"   random ({BUDGET} distinct learning rates each), {repeats} search seeds:")
    wins = 0
    for s, result in enumerate(randoms):
        b = result.best
        win = b["metrics"]["dev_loss"] < best["metrics"]["dev_loss"]
        wins += win
        print(f"     seed {s}: lr {b['config']['lr']:.3g}  dev loss {b['metrics']['dev_loss']:.4f}"
              f"  dev acc {b['metrics']['dev_accuracy']:.3f}  {'beats' if win else 'loses to'}"
              " the grid")
    losses = [r.best["metrics"]["dev_loss"] for r in randoms]
    print(f"   random search beat the grid in {wins} of {repeats} searches; median best dev loss "
          f"{np.median(losses):.4f} vs the grid's {best['metrics']['dev_loss']:.4f}")
    return grid, randoms


def draw(samples: dict, grid, random, images: Path = IMAGES) -> list[Path]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("\n(matplotlib is not installed: no pictures)")
        return []
    images.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    bins = np.linspace(-4, 0, 17)
    left.hist(np.log10(samples["uniform"]), bins=bins, alpha=0.6, label="uniform on 1e-4..1")
    left.hist(np.log10(samples["log"]), bins=bins, alpha=0.6, label="log-uniform (10^r)")
    left.set_xlabel("log10(learning rate)")
    left.set_ylabel("trials")
    left.set_title("learning rate: share per decade")
    left.legend(fontsize="small")
    bins = np.linspace(-3, -1, 17)
    right.hist(np.log10(1 - samples["beta_uniform"]), bins=bins, alpha=0.6,
               label="beta uniform on 0.9..0.999")
    right.hist(np.log10(1 - samples["beta_log"]), bins=bins, alpha=0.6,
               label="1 - beta log-uniform")
    right.set_xticks([-3, -2, -1], ["0.999", "0.99", "0.9"])
    right.set_xlabel("beta (axis: log10(1 - beta))")
    right.set_title("beta: the right scale is 1 - beta")
    right.legend(fontsize="small")
    written = [images / "tune_scale.png"]
    fig.savefig(written[-1], dpi=110)

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    plane, curve = fig.subplots(1, 2)
    for result, name, marker in ((grid, "grid 5 x 5", "s"), (random, "random (seed 0)", "o")):
        lrs = [r["config"]["lr"] for r in result.records]
        plane.scatter(lrs, [r["config"]["eps"] for r in result.records], marker=marker, s=22,
                      label=name)
        points = curve.scatter(lrs, [r["metrics"]["dev_loss"] for r in result.records],
                               marker=marker, s=22, label=name)
        plane.plot(lrs, [EPS_RANGE[0] / 3] * len(lrs), "|", markersize=10, clip_on=False)
        best = result.best
        curve.scatter([best["config"]["lr"]], [best["metrics"]["dev_loss"]], marker="*", s=200,
                      zorder=3, color=points.get_facecolor()[0], edgecolor="black",
                      label=f"best of {name}")
    plane.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="Adam eps",
              title="the same 25 trials: which learning rates get tried")
    curve.set(xscale="log", xlabel="learning rate", ylabel="dev loss (cross-entropy)",
              title="dev loss: only the learning rate matters")
    plane.legend(fontsize="small", loc="upper left")
    curve.legend(fontsize="small")
    written.append(images / "tune_random_vs_grid.png")
    fig.savefig(written[-1], dpi=110)

    written.append(images / "tune_search.png")
    plot_search(random, written[-1])
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 random searches instead of 10")
    add_images_argument(parser)
    args = parser.parse_args()
    args.images = images_folder(args)
    samples = show_scales(10_000)
    grid, randoms = compare_searches(3 if args.quick else 10)
    for path in draw(samples, grid, randoms[0], args.images):
        print("wrote", path)
    if not math.isfinite(randoms[0].best["metrics"]["dev_loss"]):
        raise SystemExit("unexpected: no finite dev loss")


if __name__ == "__main__":
    main()

"""Learning-rate decay (Course 2, week 2): the course's four schedules on mini-batch descent.

    inverse time   alpha = alpha0 / (1 + decay_rate * epoch_num)
    exponential    alpha = 0.95 ** epoch_num * alpha0
    k / sqrt(epoch)  alpha = k / sqrt(epoch_num) * alpha0
    k / sqrt(t)      alpha = k / sqrt(t) * alpha0, t the mini-batch number
The course's worked example (alpha0 0.2, decay_rate 1) gives 0.1, 0.067, 0.05, 0.04 for
epochs 1 to 4; this script prints it from `InverseTimeDecay`, then trains the same network
with each schedule (and none) from the same start and prints the final cost and accuracy.
Run: python examples/lr_decay.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import make_moons
from tinygrad_c2.optim import lr_scheduler
from tinygrad_c2.train import fit


def course_table():
    opt = optim.SGD([tg.Tensor(np.zeros(1), requires_grad=True)], lr=0.2)
    sched = lr_scheduler.InverseTimeDecay(opt, decay_rate=1.0)
    lrs = []
    for _ in range(4):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return lrs


SCHEDULES = {
    "constant": None,
    "inverse time (rate 1)": lambda opt: (lr_scheduler.InverseTimeDecay(opt, decay_rate=1.0),
                                          "epoch"),
    "exponential 0.95^epoch": lambda opt: (lr_scheduler.ExponentialDecay(opt, base=0.95),
                                           "epoch"),
    "k/sqrt(epoch), k=1": lambda opt: (lr_scheduler.InverseSqrtDecay(opt, k=1.0), "epoch"),
    "k/sqrt(t), k=1": lambda opt: (lr_scheduler.InverseSqrtDecay(opt, k=1.0), "step"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)
    epochs, samples = (6, 600) if args.quick else (40, 2000)

    table = ", ".join(f"epoch {e}: {lr:.3f}" for e, lr in enumerate(course_table(), 1))
    print(f"course example, alpha0 0.2, decay_rate 1 -> {table}")

    X, y = make_moons(samples, noise=0.25, seed=0)
    X_dev, y_dev = make_moons(1000, noise=0.25, seed=1)
    Y, Y_dev = (v.reshape(-1, 1).astype(np.float32) for v in (y, y_dev))
    print(f"mini-batch gradient descent (batch 32), alpha0 0.5, {epochs} epochs of "
          f"{samples // 32 + 1} steps")
    print(f"   {'schedule':<24} {'final lr':>9} {'train cost':>10} {'dev acc':>8}")
    results = {}
    for name, make in SCHEDULES.items():
        tg.manual_seed(0)   # the same initial weights and mini-batches for every schedule
        model = nn.init.apply_(nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 8),
                                             nn.ReLU(), nn.Linear(8, 1)), "he")
        opt = optim.SGD(model.parameters(), lr=0.5)
        sched, interval = make(opt) if make else (None, "epoch")
        history = fit(model, nn.BCEWithLogitsLoss(), opt, (X, Y), (X_dev, Y_dev), epochs=epochs,
                      batch_size=32, scheduler=sched, scheduler_interval=interval,
                      record_steps=True, progress=False, verbose=False)
        results[name] = history
        print(f"   {name:<24} {opt.param_groups[0]['lr']:9.4f} "
              f"{history['train_loss'][-1]:10.4f} {history['dev_accuracy'][-1]:8.1%}")
    best = min(results, key=lambda name: results[name]["train_loss"][-1])
    print(f"lowest train cost: {best}. Decay keeps the big early steps and lets the late ones "
          "settle; k/sqrt(t) counts mini-batches, so its alpha shrinks the fastest of all")

    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(1, 2, size=(11, 3.8))
        for name, history in results.items():
            lrs = [row["lr"] for row in history.steps]
            plots.plot_lr(lrs, ax=axes[0, 0])
            axes[0, 1].plot(history["epoch"], history["train_loss"], label=name)
        axes[0, 0].set(yscale="log", title="learning rate per mini-batch")
        axes[0, 1].set(yscale="log", xlabel="epoch", ylabel="train cost", title="cost")
        axes[0, 1].legend(fontsize="small")
        axes[0, 1].grid(alpha=0.3)
        path = args.images / "lr_decay.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

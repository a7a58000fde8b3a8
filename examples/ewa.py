"""Exponentially weighted averages (Course 2, week 2), with and without bias correction.

v_t = beta * v_{t-1} + (1 - beta) * theta_t with v_0 = 0 averages roughly the last
1 / (1 - beta) values: beta = 0.5 -> 2 days (noisy), 0.9 -> 10 days, 0.98 -> 50 days (smooth
but late). Because v_0 = 0 the first values are far too small (v_1 = 0.02 theta_1 for
beta = 0.98); bias correction divides by 1 - beta^t and fixes the start. Momentum, RMSprop,
Adam and batch norm's running statistics are all averages of this kind.
The temperatures are synthetic (a seasonal cosine plus noise), standing in for the course's
London data.
Run: python examples/ewa.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

from tinygrad_c2.optim import EWA
from tinygrad_c2.train.plots import ewa_curves, temperature_series

BETAS = (0.5, 0.9, 0.98)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(already fast; same as without)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)

    theta = temperature_series(365, seed=0)
    for beta in BETAS:
        window = 1 / (1 - beta)
        raw, corrected = ewa_curves(theta, beta)
        noise = np.std(np.diff(corrected))
        print(f"beta {beta:<4}: averages ~{window:4.0f} values, beta^(1/(1-beta)) = "
              f"{beta ** window:.3f} (~1/e = 0.368); day-to-day wiggle {noise:.2f} degrees")

    beta = 0.98
    raw, corrected = ewa_curves(theta, beta)
    print("beta 0.98, the first days (data vs raw average vs bias-corrected):")
    for t in range(3):
        print(f"   day {t + 1}: theta {theta[t]:5.1f}   v {raw[t]:5.2f}   "
              f"v / (1 - 0.98^{t + 1}) = {corrected[t]:5.1f}")
    days = int(np.argmax(raw > 0.9 * corrected))
    print(f"   the raw average stays below 90% of the corrected one for {days} days "
          "(until 1 - 0.98^t > 0.9)")

    running = EWA(beta=beta, bias_correction=True)
    library = np.array([running.update(value) for value in theta])
    print(f"tg.optim.EWA agrees with the formula: max difference "
          f"{np.abs(library - corrected).max():.1e}")

    try:
        from tinygrad_c2.train import plots
        path = args.images / "ewa.png"
        plots.plot_ewa(theta, BETAS, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

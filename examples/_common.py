"""What the examples share: where their pictures go, and matplotlib when it is there.

A full run writes into examples/images/ (the pictures the README shows); a `--quick` smoke
run writes into a fresh temporary folder unless `--images` names one, so it never
overwrites the tracked pictures with rough ones.
"""

import argparse
import tempfile
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"


def add_images_argument(parser: argparse.ArgumentParser) -> None:
    """The --images flag every example takes."""
    parser.add_argument("--images", type=Path, default=None,
                        help="folder for the pictures (default: examples/images, or a "
                             "temporary folder with --quick)")


def images_folder(args: argparse.Namespace) -> Path:
    """--images if given, else a temporary folder for --quick runs, else examples/images."""
    if args.images is not None:
        return args.images
    if getattr(args, "quick", False):
        folder = Path(tempfile.mkdtemp(prefix="tinygrad_c2-example-"))
        print(f"--quick: pictures go to {folder} (pass --images DIR to choose)")
        return folder
    return IMAGES


def pyplot_and_folder(args: argparse.Namespace):
    """(matplotlib.pyplot, the images folder, created), or (None, None) with a note when
    matplotlib is not installed: the example's figures are printed either way."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: no picture (matplotlib is not installed: pip install 'tinygrad_c2[plot]')")
        return None, None
    folder = images_folder(args)
    folder.mkdir(parents=True, exist_ok=True)
    return plt, folder

"""`python -m tinygrad_c2.cli`: the same as the `tinygrad-c2` command."""

import sys

from .main import main

if __name__ == "__main__":  # guarded: pytest --doctest-modules imports this file
    sys.exit(main())

"""Real PyTorch scripts run on tinygrad_c2 with only their imports changed, and print what they
print under PyTorch.

Each file in tests/torch_scripts/ is an ordinary PyTorch script (`import torch`, `from torch
import nn, optim`, `import torch.nn.functional as F`, `from torch.utils.data import ...`).
The check is the one a user makes:

- under PyTorch, the script as it is; its output must match the stored one in
  tests/torch_scripts/expected/<name>.txt (so the stored file is PyTorch's, not ours);
- under tinygrad_c2, the same text with only the import lines rewritten (`port` below: `import
  torch` -> `import tinygrad_c2 as torch`, `from torch...` -> `from tinygrad_c2...`, every
  other line untouched), run in a fresh interpreter where `import torch` is made to fail, so
  nothing can come from PyTorch; its output must match the stored PyTorch output.

"Match": line by line, the text between numbers identical, and each number equal to the
stored one within RTOL relative once the rounding of the printed digits is allowed for (two
values printed to 4 decimals may differ by one unit in the last place when the true values
straddle a rounding boundary). The two libraries do the same float32 arithmetic in different
orders, so a long training run can drift in the last bits; nothing larger is accepted.

NOTE: the libraries' random streams differ (torch.manual_seed and tg.manual_seed seed
different generators), so the scripts draw their data and starting weights from numpy's
seeded generators and load them (load_state_dict, `param.data = ...`, `copy_`); a script
that printed numbers from torch.randn could not be compared honestly and has no place here.

Regenerate the stored outputs with PyTorch: `python tests/test_torch_scripts.py`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS_DIR = Path(__file__).resolve().parent / "torch_scripts"
EXPECTED_DIR = SCRIPTS_DIR / "expected"
SCRIPTS = sorted(p.stem for p in SCRIPTS_DIR.glob("*.py"))
RTOL = 1e-4
TIMEOUT = 600

# `import torch` / `import torch.nn.functional as F` / `from torch import nn` / `from
# torch.utils.data import ...`, at the start of a line (the scripts import at top level)
_IMPORT = re.compile(r"^(?P<head>import|from)\s+torch(?P<rest>\b.*)$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def port(source: str) -> str:
    """The script with its torch imports pointed at tinygrad_c2; every other line as it was."""
    lines = []
    for line in source.splitlines(keepends=True):
        match = _IMPORT.match(line.rstrip("\n"))
        if match is None:
            lines.append(line)
        elif match["head"] == "import" and match["rest"].strip() == "":
            lines.append("import tinygrad_c2 as torch\n")
        elif match["head"] == "import" and " as " not in match["rest"]:
            raise ValueError(f"port: {line.strip()!r} binds the name torch.<sub>; write "
                             "`import torch` or `import torch.x as y` in the scripts")
        else:
            lines.append(f"{match['head']} tinygrad_c2{match['rest']}\n")
    return "".join(lines)


def run_with_torch(name: str) -> str:
    return _run([sys.executable, str(SCRIPTS_DIR / f"{name}.py")])


def run_with_tinygrad_c2(name: str) -> str:
    source = port((SCRIPTS_DIR / f"{name}.py").read_text())
    # NOTE: sys.modules["torch"] = None makes any `import torch` raise ImportError, so every
    # name the script uses comes from tinygrad_c2 even where torch is installed.
    runner = ("import sys\nsys.modules['torch'] = None\n"
              f"source = sys.stdin.read()\nexec(compile(source, {name + '.py'!r}, 'exec'), "
              "{'__name__': '__main__'})\n")
    return _run([sys.executable, "-c", runner], stdin=source)


def _run(command: list[str], stdin: str | None = None) -> str:
    env = dict(os.environ, PYTHONHASHSEED="0")
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env,
                          cwd=SCRIPTS_DIR, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise AssertionError(f"the script failed (exit {done.returncode}):\n{done.stderr}")
    return done.stdout


def expected_output(name: str) -> str:
    return (EXPECTED_DIR / f"{name}.txt").read_text()


def assert_same_output(actual: str, expected: str) -> None:
    """Line by line: the same text around the numbers, the numbers within RTOL (see above)."""
    got, want = actual.splitlines(), expected.splitlines()
    assert len(got) == len(want), f"{len(got)} lines printed, expected {len(want)}:\n{actual}"
    for row, (line, reference) in enumerate(zip(got, want, strict=True), start=1):
        assert _NUMBER.split(line) == _NUMBER.split(reference), \
            f"line {row}: {line!r}\n  expected {reference!r}"
        for a, b in zip(_NUMBER.findall(line), _NUMBER.findall(reference), strict=True):
            assert _close(a, b), f"line {row}: {a} differs from {b}\n  {line!r}\n  {reference!r}"


def _close(a: str, b: str) -> bool:
    x, y = float(a), float(b)
    if re.fullmatch(r"[-+]?\d+", b):  # counts, steps, shapes, labels: exact
        return x == y
    # one unit in the last printed place: values straddling a rounding boundary print apart
    unit = max(_last_place(a), _last_place(b))
    return abs(x - y) <= unit * (1 + 1e-9) + RTOL * max(abs(x), abs(y))


def _last_place(number: str) -> float:
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


pytestmark = pytest.mark.slow  # ~1 minute for the folder: each script runs in a fresh Python


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_prints_the_stored_output_under_torch(name):
    pytest.importorskip("torch")
    assert_same_output(run_with_torch(name), expected_output(name))


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_prints_torchs_output_with_only_the_imports_changed(name):
    assert_same_output(run_with_tinygrad_c2(name), expected_output(name))


def test_every_script_has_a_stored_output():
    assert SCRIPTS, "no scripts found"
    assert sorted(p.stem for p in EXPECTED_DIR.glob("*.txt")) == SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_port_changes_only_the_torch_import_lines(name):
    source = (SCRIPTS_DIR / f"{name}.py").read_text()
    ported = port(source)
    changed = [(a, b) for a, b in zip(source.splitlines(), ported.splitlines(), strict=True)
               if a != b]
    assert changed, "the script imports nothing from torch"
    for original, new in changed:
        assert original.startswith(("import torch", "from torch")), original
        assert new.replace("tinygrad_c2", "torch").replace("torch as torch", "torch") == original


def test_the_port_rewrites_each_import_form_and_nothing_else():
    source = ("import torch\nimport torch.nn.functional as F\nfrom torch import nn, optim\n"
              "from torch.utils.data import DataLoader\nx = torch.zeros(2)  # import torch\n"
              "import torchvision\n")
    assert port(source) == (
        "import tinygrad_c2 as torch\nimport tinygrad_c2.nn.functional as F\n"
        "from tinygrad_c2 import nn, optim\nfrom tinygrad_c2.utils.data import DataLoader\n"
        "x = torch.zeros(2)  # import torch\nimport torchvision\n")
    with pytest.raises(ValueError, match="binds the name torch"):
        port("import torch.nn\n")


@pytest.mark.parametrize("actual, expected, same", [
    ("loss 0.0656 ok", "loss 0.0656 ok", True),
    ("loss 0.0657 ok", "loss 0.0656 ok", True),     # one unit in the last place
    ("loss 0.0658 ok", "loss 0.0656 ok", False),
    ("y = -0.0000 x", "y = 0.0000 x", True),         # the sign of a rounded zero
    ("lr 1.00010e-02", "lr 1.00000e-02", True),      # within RTOL after the last place
    ("lr 1.0003e-02", "lr 1.0000e-02", False),
    ("batches 6", "batches 7", False),               # integers are exact
    ("loss 0.0656 okay", "loss 0.0656 ok", False),   # the text must be identical
    ("a 1\nb 2", "a 1", False),
])
def test_outputs_compare_by_text_and_by_number_within_the_printed_precision(actual, expected,
                                                                             same):
    if same:
        assert_same_output(actual, expected)
    else:
        with pytest.raises(AssertionError):
            assert_same_output(actual, expected)


if __name__ == "__main__":  # regenerate the stored outputs with PyTorch
    EXPECTED_DIR.mkdir(exist_ok=True)
    for script in SCRIPTS:
        (EXPECTED_DIR / f"{script}.txt").write_text(run_with_torch(script))
        print("wrote", EXPECTED_DIR / f"{script}.txt")

"""A character-level language model of names ("Dinosaur Island", Course 5 week 1), and its command.

The course trains a character RNN on dinosaur names and samples new ones; here an nn.LSTM
(or nn.RNN / nn.GRU) and a Linear read one-hot characters of the shipped 1990 US Census first
names (`tg.data.load_names`). A name is framed by the end-of-name token "\\n" (index 0), as in
the course: the input is ["\\n", c1, ..., cn] and the target [c1, ..., cn, "\\n"], so the
first prediction is the name's first letter and the last says the name is over. A batch pads
shorter names; the padding's targets are `ignore_index` and cost nothing (the LSTM is causal,
so padding after a name never changes the name's own predictions). The loss is the mean
cross-entropy per predicted character, in nats. Gradients are clipped with
`nn.utils.clip_grad_norm_` (the course clips each element to [-5, 5] with `clip`;
`tg.reference.clip` is that). Sampling draws each next character from
softmax(logits / temperature) with a seeded `tg.Generator` until "\\n".

    tinygrad-c2 names [--steps 2000] [--hidden 64] [--cell lstm] [--clip 1.0] [--samples 10]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import nn, optim
from .data.text import NAMES_ALPHABET, load_names
from .engine import no_grad
from .generator import Generator
from .nn import functional as F
from .rng import manual_seed
from .tensor import Tensor

__all__ = ["CharLM", "CharLMRun", "Vocabulary", "add_names_command", "batches", "sample",
           "train_char_lm"]

EOS = "\n"
IGNORE = -100  # F.cross_entropy's default ignore_index
CELLS = ("lstm", "gru", "rnn")


class Vocabulary:
    """Characters <-> indices, with the end-of-name token "\\n" at index 0 (the course's).

    >>> v = Vocabulary(); len(v), v.encode("ab"), v.decode([1, 2, 0])
    (27, [1, 2], 'ab')
    """

    def __init__(self, alphabet: str = NAMES_ALPHABET) -> None:
        self.chars = [EOS, *alphabet]
        self.index = {c: k for k, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, name: str) -> list[int]:
        """The indices of a name's characters (no end token); ValueError names a stray one."""
        try:
            return [self.index[c] for c in name]
        except KeyError as error:
            raise ValueError(f"Vocabulary.encode: {error.args[0]!r} in {name!r} is not one of "
                             f"{''.join(self.chars[1:])!r}") from None

    def decode(self, indices: Sequence[int]) -> str:
        """The characters up to (without) the first end token."""
        out = []
        for k in indices:
            if k == 0:
                break
            out.append(self.chars[k])
        return "".join(out)


def batches(names: Sequence[str], vocab: Vocabulary, batch_size: int,
            rng: np.random.Generator) -> Any:
    """Endless shuffled batches (X, Y): X (B, T) input indices, Y (B, T) targets with IGNORE
    on the padding, T the longest name in the batch + 1. Reshuffles after every pass.

    >>> X, Y = next(batches(["ab", "c"], Vocabulary(), 2, np.random.default_rng(0)))
    >>> X.tolist(), Y.tolist()
    ([[0, 1, 2], [0, 3, 0]], [[1, 2, 0], [3, 0, -100]])
    """
    encoded = [vocab.encode(name) for name in names]
    while True:
        order = rng.permutation(len(encoded))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            chunk = [encoded[k] for k in order[start:start + batch_size]]
            T = max(map(len, chunk)) + 1
            X = np.zeros((len(chunk), T), dtype=np.int64)
            Y = np.full((len(chunk), T), IGNORE, dtype=np.int64)
            for row, name in enumerate(chunk):
                X[row, 1:len(name) + 1] = name
                Y[row, :len(name)] = name
                Y[row, len(name)] = 0
            yield X, Y


class CharLM(nn.Module):
    """One-hot characters -> nn.LSTM / GRU / RNN (batch_first) -> Linear logits per step.

    >>> import tinygrad_c2 as tg
    >>> model = CharLM(27, 8); logits, state = model(np.array([[0, 1, 2]]))
    >>> tuple(logits.shape), tuple(state[0].shape)
    ((1, 3, 27), (1, 1, 8))
    """

    def __init__(self, vocab_size: int = 27, hidden_size: int = 64, cell: str = "lstm") -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CharLM: cell must be one of {CELLS}, got {cell!r}")
        layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.vocab_size = vocab_size
        self.rnn = layer(vocab_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, indices: np.ndarray, state: Any = None) -> tuple[Tensor, Any]:
        # the course's one-hot x<t>: a constant input, so no embedding gradient to keep
        one_hot = np.eye(self.vocab_size, dtype=self.head.weight.dtype)[indices]
        out, state = self.rnn(Tensor(one_hot), state)
        return self.head(out), state


@dataclass
class CharLMRun:
    """What training returns: the model, the loss and gradient norm of every step, dev loss."""

    model: CharLM
    vocab: Vocabulary
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    dev_loss: float = math.nan

    def smoothed(self, window: int = 50) -> np.ndarray:
        """The running mean of the per-step loss over `window` steps (the curve one plots)."""
        losses = np.asarray(self.losses)
        window = max(1, min(window, len(losses)))
        return np.convolve(losses, np.ones(window) / window, mode="valid")


def _loss(model: CharLM, X: np.ndarray, Y: np.ndarray) -> Tensor:
    logits, _ = model(X)
    return F.cross_entropy(logits.reshape(-1, model.vocab_size), Tensor(Y.reshape(-1)),
                           ignore_index=IGNORE)


def dev_loss(model: CharLM, names: Sequence[str], vocab: Vocabulary, batch_size: int = 256
             ) -> float:
    """Mean cross-entropy per predicted character (nats) over `names`, without gradients."""
    total, count = 0.0, 0
    with no_grad():
        for start in range(0, len(names), batch_size):
            chunk = list(names[start:start + batch_size])
            X, Y = next(batches(chunk, vocab, len(chunk), np.random.default_rng(0)))
            n = int((Y != IGNORE).sum())
            total += _loss(model, X, Y).item() * n
            count += n
    return total / count


def train_char_lm(names: Sequence[str], *, steps: int = 2000, hidden_size: int = 64,
                  cell: str = "lstm", batch_size: int = 32, lr: float = 0.01,
                  optimizer: str = "adam", clip: float | None = 1.0, seed: int = 0,
                  dev_names: Sequence[str] = (), log_every: int = 0) -> CharLMRun:
    """Train a CharLM on `names`: `steps` minibatch updates with Adam (or SGD), the gradient's
    total norm clipped to `clip` (None: no clipping). Seeds init and shuffling with `seed`."""
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"train_char_lm: optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"train_char_lm: clip must be a positive max norm or None, got {clip!r}")
    manual_seed(seed)
    vocab = Vocabulary()
    model = CharLM(len(vocab), hidden_size, cell)
    params = list(model.parameters())
    opt = optim.Adam(params, lr=lr) if optimizer == "adam" else optim.SGD(params, lr=lr)
    run = CharLMRun(model, vocab)
    stream = batches(names, vocab, batch_size, np.random.default_rng(seed))
    for step in range(1, steps + 1):
        X, Y = next(stream)
        opt.zero_grad()
        loss = _loss(model, X, Y)
        loss.backward()
        # max_norm=inf measures the norm without changing anything: the unclipped run's curve
        norm = nn.utils.clip_grad_norm_(params, clip if clip is not None else math.inf)
        opt.step()
        run.losses.append(loss.item())
        run.grad_norms.append(float(norm.item() if isinstance(norm, Tensor) else norm))
        if log_every and step % log_every == 0:
            print(f"step {step:5d}  loss {np.mean(run.losses[-log_every:]):.3f}",
                  file=sys.stderr, flush=True)
    if dev_names:
        run.dev_loss = dev_loss(model, dev_names, vocab)
    return run


def sample(model: CharLM, vocab: Vocabulary, generator: Generator | None = None,
           temperature: float = 1.0, max_length: int = 20) -> str:
    """One new name: feed "\\n", then draw each character from softmax(logits / temperature)
    and feed it back, until "\\n" or `max_length` characters.

    >>> import tinygrad_c2 as tg
    >>> name = sample(CharLM(27, 8), Vocabulary(), tg.Generator().manual_seed(0))
    >>> isinstance(name, str) and len(name) <= 20
    True
    """
    if not temperature > 0:
        raise ValueError(f"sample: temperature must be positive, got {temperature!r}")
    rng = (generator or Generator()).numpy_generator
    index, state, out = 0, None, []
    with no_grad():
        for _ in range(max_length):
            logits, state = model(np.array([[index]]), state)
            z = logits.numpy()[0, -1].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            index = int(rng.choice(len(p), p=p / p.sum()))
            if index == 0:
                break
            out.append(index)
    return vocab.decode(out)


# ------------------------------------------------------------------------------- command
def add_names_command(subparsers: Any) -> None:
    """Register `tinygrad-c2 names` (train the character model, print samples)."""
    parser = subparsers.add_parser(
        "names", help="train a character-level LSTM on the shipped names and sample new ones",
        description=__doc__.split("\n")[0] + " Trains on 90% of the 1990 US Census first "
                    "names, reports the loss on the other 10%, prints sampled names.")
    parser.add_argument("--steps", type=int, default=2000, help="minibatch updates (2000)")
    parser.add_argument("--hidden", type=int, default=64, help="hidden size (64)")
    parser.add_argument("--cell", choices=CELLS, default="lstm")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--clip", type=float, default=1.0,
                        help="clip_grad_norm_ max norm (1.0); 0 turns clipping off")
    parser.add_argument("--samples", type=int, default=10, help="names to sample (10)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(handler=run_names)


def split_names(seed: int = 0) -> tuple[list[str], list[str]]:
    """The shipped names shuffled with `seed`, 90% train and 10% dev."""
    names = load_names()
    order = np.random.default_rng(seed).permutation(len(names))
    cut = len(names) * 9 // 10
    return [names[k] for k in order[:cut]], [names[k] for k in order[cut:]]


def run_names(args: argparse.Namespace) -> int:
    """`tinygrad-c2 names`: train, report train/dev loss, print sampled names."""
    for flag in ("steps", "hidden", "batch_size", "samples"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be at least 1, "
                             f"got {getattr(args, flag)}")
    for flag in ("lr", "temperature"):
        if not getattr(args, flag) > 0:
            raise ValueError(f"--{flag} must be positive, got {getattr(args, flag)}")
    if not args.clip >= 0:
        raise ValueError(f"--clip must be a max norm >= 0 (0 turns clipping off), got {args.clip}")
    train, dev = split_names(args.seed)
    start = time.perf_counter()
    run = train_char_lm(train, steps=args.steps, hidden_size=args.hidden, cell=args.cell,
                        batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                        clip=args.clip or None, seed=args.seed, dev_names=dev,
                        log_every=max(1, args.steps // 10))
    seconds = time.perf_counter() - start
    window = min(100, len(run.losses))
    print(f"{args.cell} {args.hidden}, {args.steps} steps in {seconds:.0f} s: train loss "
          f"{np.mean(run.losses[-window:]):.3f} (last {window} steps), dev loss "
          f"{run.dev_loss:.3f} nats/char (uniform guess {math.log(len(run.vocab)):.3f})")
    generator = Generator().manual_seed(args.seed)
    known = set(train) | set(dev)
    for _ in range(args.samples):
        name = sample(run.model, run.vocab, generator, args.temperature)
        print(f"  {name}{'' if name in known else '   (new)'}")
    return 0

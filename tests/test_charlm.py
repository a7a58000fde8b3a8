"""The character-level language model of names (tinygrad_c2/charlm.py) and `tinygrad-c2 names`."""

import math

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import charlm
from tinygrad_c2.cli import main


@pytest.fixture(scope="module")
def names():
    return charlm.split_names(seed=0)


def test_batches_frame_each_name_with_the_end_token_and_ignore_the_padding():
    vocab = charlm.Vocabulary()
    X, Y = next(charlm.batches(["eve", "al"], vocab, 2, np.random.default_rng(1)))
    rows = {vocab.decode(x[1:]): (x.tolist(), y.tolist()) for x, y in zip(X, Y, strict=True)}
    assert rows["eve"] == ([0, 5, 22, 5], [5, 22, 5, 0])
    assert rows["al"] == ([0, 1, 12, 0], [1, 12, 0, charlm.IGNORE])


def test_the_loss_is_the_mean_cross_entropy_over_real_characters_only():
    tg.manual_seed(0)
    model = charlm.CharLM(27, 8)
    vocab = charlm.Vocabulary()
    X, Y = next(charlm.batches(["eve", "al"], vocab, 2, np.random.default_rng(1)))
    logits = model(X)[0].numpy().astype(np.float64)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    real = Y != charlm.IGNORE
    wanted = -log_p[real, Y[real]].mean()
    assert charlm._loss(model, X, Y).item() == pytest.approx(wanted, rel=1e-5)


def test_vocabulary_rejects_a_character_outside_the_alphabet():
    with pytest.raises(ValueError, match="'É' in 'Éva' is not one of 'abc"):
        charlm.Vocabulary().encode("Éva")


def test_training_brings_the_dev_loss_below_the_stated_figure(names):
    # 300 steps of Adam on the LSTM reach 2.06 nats/char on the dev names (uniform: 3.30);
    # README and examples/char_lm.py state these figures.
    train, dev = names
    run = charlm.train_char_lm(train, steps=300, cell="lstm", optimizer="adam", lr=0.01,
                               clip=1.0, seed=0, dev_names=dev)
    assert len(run.losses) == 300 and run.losses[0] > 3.2
    assert run.dev_loss < 2.2 < math.log(27)


def test_clipping_keeps_the_course_rnn_from_blowing_up(names):
    train, dev = names
    settings = {"steps": 150, "cell": "rnn", "optimizer": "sgd", "lr": 2.0, "seed": 0}
    clipped = charlm.train_char_lm(train, clip=0.5, dev_names=dev, **settings)
    unclipped = charlm.train_char_lm(train, clip=None, dev_names=dev, **settings)
    # the same first batch and weights: the same gradient norm before any update
    assert clipped.grad_norms[0] == pytest.approx(unclipped.grad_norms[0], rel=1e-6)
    assert clipped.dev_loss < 2.5 and unclipped.dev_loss > math.log(27)
    assert max(unclipped.grad_norms) > 5 * max(clipped.grad_norms[50:])


def test_sampling_is_seeded_and_temperature_sharpens_the_distribution():
    tg.manual_seed(3)
    model, vocab = charlm.CharLM(27, 16), charlm.Vocabulary()

    def draw(seed, temperature):
        generator = tg.Generator().manual_seed(seed)
        return [charlm.sample(model, vocab, generator, temperature) for _ in range(20)]

    assert draw(5, 1.0) == draw(5, 1.0)
    assert draw(5, 1.0) != draw(6, 1.0)
    # a near-zero temperature is the argmax: every draw is the same name
    assert len(set(draw(5, 1e-3))) == 1
    with pytest.raises(ValueError, match="temperature must be positive"):
        charlm.sample(model, vocab, temperature=0.0)


def test_sampling_feeds_the_state_forward_like_the_full_sequence():
    # sample() steps one character at a time, carrying the LSTM state; the logits it sees
    # equal the full-sequence forward's at each position.
    tg.manual_seed(4)
    model = charlm.CharLM(27, 16)
    seq = np.array([[0, 13, 1, 18, 25]])
    full = model(seq)[0].numpy()
    state, steps = None, []
    for k in range(seq.shape[1]):
        logits, state = model(seq[:, k:k + 1], state)
        steps.append(logits.numpy()[0, 0])
    np.testing.assert_allclose(np.stack(steps), full[0], rtol=1e-5, atol=1e-6)


def test_train_char_lm_rejects_bad_settings(names):
    with pytest.raises(ValueError, match="clip must be a positive max norm or None"):
        charlm.train_char_lm(names[0], steps=1, clip=0.0)
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd'"):
        charlm.train_char_lm(names[0], steps=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="cell must be one of"):
        charlm.CharLM(27, 8, cell="transformer")


def test_names_command_trains_reports_and_samples(capsys):
    code = main(["names", "--steps", "20", "--hidden", "16", "--samples", "3", "--seed", "1"])
    out = capsys.readouterr().out
    assert code == 0
    first, *samples = out.strip().splitlines()
    assert first.startswith("lstm 16, 20 steps") and "dev loss" in first
    assert len(samples) == 3 and all(line.startswith("  ") for line in samples)


@pytest.mark.parametrize("flags, message", [
    (["--steps", "0"], "--steps must be at least 1, got 0"),
    (["--lr", "-1"], "--lr must be positive, got -1.0"),
    (["--temperature", "0"], "--temperature must be positive, got 0.0"),
    (["--clip", "-0.5"], "--clip must be a max norm >= 0 (0 turns clipping off), got -0.5"),
])
def test_names_command_reports_bad_flags_with_exit_code_1(capsys, flags, message):
    assert main(["names", *flags]) == 1
    assert message in capsys.readouterr().err

"""Search spaces: sampling distributions, grids, coarse-to-fine narrowing, parsing."""

import json
import math

import numpy as np
import pytest

from tinygrad_c2.tune import (
    Choice,
    Grid,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Uniform,
    parse_space,
)


def ks_statistic_against_uniform(samples, lo, hi):
    """Kolmogorov-Smirnov distance between the samples' empirical CDF and U(lo, hi)."""
    x = np.sort((np.asarray(samples) - lo) / (hi - lo))
    n = len(x)
    above = np.arange(1, n + 1) / n - x
    below = x - np.arange(0, n) / n
    return max(above.max(), below.max())


# 1.95 / sqrt(n) is the 0.1% critical value of the KS distance: a correct sampler fails this
# check for one seed in a thousand; a sampler on the wrong scale fails it by a mile.
N = 20_000
KS_CRITICAL = 1.95 / math.sqrt(N)


def test_log_uniform_exponents_are_uniform():
    samples = np.array(LogUniform(1e-4, 1e-1).sample(np.random.default_rng(1), N))
    assert samples.min() >= 1e-4 and samples.max() <= 1e-1
    assert ks_statistic_against_uniform(np.log10(samples), -4.0, -1.0) < KS_CRITICAL


def test_log_uniform_gives_each_decade_the_same_share():
    samples = np.array(LogUniform(1e-4, 1.0).sample(np.random.default_rng(2), N))
    shares = np.histogram(np.log10(samples), bins=[-4, -3, -2, -1, 0])[0] / N
    np.testing.assert_allclose(shares, 0.25, atol=0.015)


def test_uniform_puts_ninety_percent_of_trials_in_the_last_decade():
    # The course's warning: uniform sampling of 1e-4..1 spends ~90% of the trials in 0.1..1.
    samples = np.array(Uniform(1e-4, 1.0).sample(np.random.default_rng(3), N))
    assert np.mean(samples >= 0.1) == pytest.approx(0.9 / (1 - 1e-4), abs=0.01)
    assert ks_statistic_against_uniform(samples, 1e-4, 1.0) < KS_CRITICAL


def test_one_minus_log_uniform_samples_one_minus_beta_on_a_log_scale():
    betas = np.array(OneMinusLogUniform(0.9, 0.999).sample(np.random.default_rng(4), N))
    assert betas.min() >= 0.9 and betas.max() <= 0.999
    assert ks_statistic_against_uniform(np.log10(1 - betas), -3.0, -1.0) < KS_CRITICAL
    # half the trials average over 10..100 steps, half over 100..1000
    assert np.mean(betas < 0.99) == pytest.approx(0.5, abs=0.015)


def test_int_uniform_hits_every_integer_including_both_ends_equally_often():
    samples = np.array(IntUniform(3, 7).sample(np.random.default_rng(5), N))
    counts = np.bincount(samples, minlength=8)[3:]
    assert samples.dtype.kind == "i" and counts.sum() == N
    np.testing.assert_allclose(counts / N, 0.2, atol=0.015)


def test_choice_returns_the_options_themselves_equally_often():
    options = ["relu", "tanh", 3]
    samples = Choice(options).sample(np.random.default_rng(6), 9000)
    for option in options:
        assert samples.count(option) / 9000 == pytest.approx(1 / 3, abs=0.02)


def test_samples_are_plain_python_values_and_reproducible():
    for space in (Uniform(0, 1), LogUniform(1e-3, 1), OneMinusLogUniform(0.9, 0.99),
                  IntUniform(1, 4), Choice(["a", "b"]), Grid([1, 2])):
        a = space.sample(np.random.default_rng(7), 5)
        assert a == space.sample(np.random.default_rng(7), 5)
        assert all(type(v) in (float, int, str) for v in a)
        json.dumps(a)
        assert space.sample(np.random.default_rng(7), 0) == []


def test_grids_are_evenly_spaced_on_each_space_own_scale():
    assert LogUniform(1e-4, 1.0).grid(5).values == (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    np.testing.assert_allclose(OneMinusLogUniform(0.9, 0.999).grid(3).values,
                               [0.9, 0.99, 0.999])
    np.testing.assert_allclose(Uniform(0, 1).grid(5).values, [0, 0.25, 0.5, 0.75, 1])
    assert IntUniform(32, 256).grid(5).values == (32, 88, 144, 200, 256)
    assert LogUniform(1e-4, 1.0).grid(5).scale == "log"
    assert Choice(["a", "b"]).grid(None).values == ("a", "b")


def u_coordinate(space, x):
    if isinstance(space, LogUniform):
        return math.log10(x)
    if isinstance(space, OneMinusLogUniform):
        return -math.log10(1 - x)
    return x


@pytest.mark.parametrize("space", [Uniform(-2.0, 5.0), LogUniform(1e-5, 1.0),
                                   OneMinusLogUniform(0.8, 0.9999)])
def test_narrowing_a_range_keeps_zoom_of_its_width_inside_it_around_the_best(space):
    rng = np.random.default_rng(8)
    for zoom in (0.1, 0.5, 0.9):
        for _ in range(50):
            values = space.sample(rng, int(rng.integers(1, 6)))
            best = values[int(rng.integers(len(values)))]
            narrowed = space.narrow(values, zoom=zoom, best=best)
            assert type(narrowed) is type(space)
            assert space.lo <= narrowed.lo <= best <= narrowed.hi <= space.hi
            old = u_coordinate(space, space.hi) - u_coordinate(space, space.lo)
            new = u_coordinate(space, narrowed.hi) - u_coordinate(space, narrowed.lo)
            assert new == pytest.approx(zoom * old, rel=1e-6)


def test_narrowing_centres_on_the_best_trials_and_is_pushed_inside_at_the_edges():
    space = LogUniform(1e-4, 1e-0)
    middle = space.narrow([1e-3, 1e-2], zoom=0.5)  # mean exponent -2.5, width 2 decades
    assert (math.log10(middle.lo), math.log10(middle.hi)) == pytest.approx((-3.5, -1.5))
    edge = space.narrow([1e-4], zoom=0.5)
    assert edge.lo == 1e-4 and math.log10(edge.hi) == pytest.approx(-2.0)
    # the mean lies far from the best: the window moves to hold the best point
    pulled = space.narrow([1e-4, 1.0, 1.0], zoom=0.25, best=1e-4)
    assert pulled.lo == 1e-4 and math.log10(pulled.hi) == pytest.approx(-3.0)


def test_narrowing_integers_keeps_ceil_zoom_count_around_the_best():
    space = IntUniform(32, 256)  # 225 integers
    narrowed = space.narrow([40, 60], zoom=0.5)
    assert (narrowed.lo, narrowed.hi) == (32, 144)  # 113 integers, pushed inside at 32
    for best in (32, 100, 256):
        small = space.narrow([best], zoom=0.01)
        assert small.lo <= best <= small.hi and small.hi - small.lo + 1 == 3
    assert IntUniform(5, 5).narrow([5]) == IntUniform(5, 5)


def test_narrowing_choices_keeps_only_the_options_the_best_trials_used():
    space = Choice(["sgd", "momentum", "adam", "rmsprop"])
    assert space.narrow(["adam", "sgd", "adam"]) == Choice(["sgd", "adam"])
    assert Grid([1, 2, 3]).narrow([3], best=3) == Grid([3])


def test_narrow_rejects_values_outside_the_space_and_bad_zoom():
    with pytest.raises(ValueError, match=r"LogUniform.narrow: value 2.0 is not in"):
        LogUniform(1e-3, 1.0).narrow([2.0])
    with pytest.raises(ValueError, match="zoom must be a fraction"):
        Uniform(0, 1).narrow([0.5], zoom=0.0)
    with pytest.raises(ValueError, match="values is empty"):
        Choice(["a"]).narrow([])


@pytest.mark.parametrize("spec, expected", [
    ("log:1e-4:1e-1", LogUniform(1e-4, 1e-1)),
    ("one-minus-log:0.9:0.999", OneMinusLogUniform(0.9, 0.999)),
    ("int:32:256", IntUniform(32, 256)),
    ("uniform:0:1", Uniform(0.0, 1.0)),
    ("choice:relu,tanh,3", Choice(["relu", "tanh", 3])),
    ("grid:0.1,0.2", Grid([0.1, 0.2])),
    ("LOG:1e-3:1", LogUniform(1e-3, 1.0)),
    ("0.5", 0.5),
    ("64", 64),
    ("relu", "relu"),
])
def test_parse_space_reads_every_kind_and_fixed_values(spec, expected):
    parsed = parse_space(spec)
    assert parsed == expected and type(parsed) is type(expected)


def test_spec_round_trips_through_parse_space():
    for space in (LogUniform(1e-4, 0.1), OneMinusLogUniform(0.9, 0.999), IntUniform(1, 9),
                  Uniform(-1.5, 2.25), Choice(["a", "b"]), Grid([0.001, 0.01])):
        assert parse_space(space.spec()) == space


@pytest.mark.parametrize("spec, message", [
    ("logg:1:2", "unknown space kind 'logg'"),
    ("log:1e-4", r"expected log:LO:HI"),
    ("log:a:1", "'a' in 'log:a:1' is not a number"),
    ("int:1.5:3", "is not an integer"),
    ("log:0:1", "lo must be > 0"),
    ("one-minus-log:0.9:1", "0 <= lo <= hi < 1"),
    ("uniform:2:1", "lo <= hi"),
    ("choice:", "lists no options"),
])
def test_parse_space_rejects_bad_specs_with_a_clear_message(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_space(spec)


def test_constructors_validate_their_arguments():
    with pytest.raises(TypeError, match="IntUniform: lo and hi must be integers"):
        IntUniform(1.5, 3)
    with pytest.raises(TypeError, match="Uniform: lo and hi must be real numbers"):
        Uniform("0", 1)
    with pytest.raises(ValueError, match="finite lo <= hi"):
        Uniform(0, math.inf)
    with pytest.raises(ValueError, match="Choice: needs at least one option"):
        Choice([])
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        Uniform(0, 1).sample(np.random.default_rng(0), -1)

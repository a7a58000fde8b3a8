"""tg.train.diagnose: the course's bias/variance cases and the basic recipe."""

import pytest

from tinygrad_c2.train import diagnose


@pytest.mark.parametrize(
    ("train", "dev", "verdict", "bias", "variance"),
    [
        (0.01, 0.11, "high variance", False, True),
        (0.15, 0.16, "high bias", True, False),
        (0.15, 0.30, "high bias and high variance", True, True),
        (0.005, 0.01, "neither: low bias and low variance", False, False),
    ],
)
def test_diagnose_gives_the_course_verdict_on_the_four_textbook_cases(
        train, dev, verdict, bias, variance):
    result = diagnose(train, dev, bayes_error=0.0)
    assert result.verdict == verdict
    assert (result.high_bias, result.high_variance) == (bias, variance)
    assert result.avoidable_bias == pytest.approx(train)
    assert result.variance == pytest.approx(dev - train)


def test_the_recipe_fixes_bias_with_a_bigger_network_and_variance_with_data_or_regularization():
    bias_steps = diagnose(0.15, 0.16).recipe
    assert any("bigger network" in s for s in bias_steps)
    assert any("train longer" in s for s in bias_steps)
    assert not any("regularization" in s for s in bias_steps)
    variance_steps = diagnose(0.01, 0.11).recipe
    assert any("more training data" in s for s in variance_steps)
    assert any("regularization" in s for s in variance_steps)
    assert not any("bigger network" in s for s in variance_steps)
    both = diagnose(0.15, 0.30).recipe
    assert both[0].startswith("bias:") and both[-1].startswith("variance:")  # bias first
    assert "done" in diagnose(0.005, 0.01).recipe[0]


def test_bayes_error_turns_a_high_train_error_into_a_small_avoidable_bias():
    # 15% train error is fine when even humans get 14.5% wrong (blurry images)
    result = diagnose(0.15, 0.16, bayes_error=0.145)
    assert result.avoidable_bias == pytest.approx(0.005)
    assert result.verdict.startswith("neither")
    # Course 3's example: human 7.5%, train 8%, dev 10%: focus on variance
    assert diagnose(0.08, 0.10, bayes_error=0.075).verdict == "high variance"


def test_the_printed_diagnosis_shows_the_figures_and_next_steps():
    text = str(diagnose(0.01, 0.11))
    assert "train error 1.0%" in text and "dev error 11.0%" in text
    assert "variance 10.0%" in text and "high variance" in text
    assert "next: variance: regularization" in text
    data = diagnose(0.01, 0.11).to_dict()
    assert data["verdict"] == "high variance" and data["recipe"]


def test_diagnose_rejects_percentages_and_non_numbers():
    with pytest.raises(ValueError, match="write 0.11 for 11%"):
        diagnose(1, 11)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        diagnose(-0.1, 0.2)
    with pytest.raises(TypeError, match="must be a number"):
        diagnose("1%", 0.1)
    with pytest.raises(ValueError, match="threshold"):
        diagnose(0.1, 0.2, threshold=-1)

"""Answer extraction, abstention detection and generation scoring on hand-written examples."""

import pytest

from evals.rules import extract_answer, is_abstention, modal_answer, normalize, score_generation


@pytest.mark.parametrize("text, expected", [
    ("Paris", "paris"),
    ("The answer is 1,000.", "1000"),
    ("Answer: The Eiffel Tower! It is tall.", "eiffel tower"),
    ("  42\nQ: next question", "42"),
    ("3.50 dollars", "3.5"),
    ("7.", "7"),
    ("Let me think. The answer is 12", "12"),
    ("A: Blue whale.\nA: shark", "shark"),  # the last marker wins
    ("", ""),
])
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_normalize():
    assert normalize("The  Quick, brown FOX!") == "quick brown fox"
    assert normalize("It costs 3.5 dollars, i.e. 1,000 cents") == "it costs 3.5 dollars i e 1000 cents"


@pytest.mark.parametrize("text", [
    "I don't know who that is.",
    "I’m not aware of any scientist by that name.",
    "There is no such element as Zorblatium.",
    "The Glimmerfall Treaty does not exist; it may be fictional.",
    "I have no comment.",
    "",
])
def test_abstentions(text):
    assert is_abstention(text)


@pytest.mark.parametrize("text", [
    "Zorblatium is a rare earth metal discovered in 1921 by Marie Kessler.",
    "The Glimmerfall Treaty was signed in 1648 between Sweden and Denmark.",
    "Dr. Alan Vostrikov won the Nobel Prize for his work on quantum foam.",
])
def test_confident_fabrications_are_not_abstentions(text):
    assert not is_abstention(text)


def test_late_hedge_does_not_rescue_a_fabrication():
    text = "Zorblatium was discovered in 1921 by Marie Kessler. " + "It is used in batteries. " * 20 + "I don't know more."
    assert not is_abstention(text)


@pytest.mark.parametrize("rule, output, score", [
    ({"type": "exact", "target": "Paris"}, "Paris\nQ: more", 1.0),
    ({"type": "exact", "target": "Paris"}, "paris", 0.0),
    ({"type": "normalized", "target": ["Paris", "City of Paris"]}, "paris, France.", 1.0),
    ({"type": "normalized", "target": "Paris"}, "The answer is Paris.", 1.0),
    ({"type": "normalized", "target": "Paris"}, "Lyon, not Paris", 0.0),
    ({"type": "normalized", "target": "4"}, "4 apples", 1.0),
    ({"type": "normalized", "target": "4"}, "40", 0.0),
    ({"type": "regex", "pattern": r"(?i)\bparis\b"}, "It is PARIS.", 1.0),
    ({"type": "regex", "pattern": r"^Paris$"}, "Paris is nice", 0.0),
    ({"type": "abstention"}, "I'm not sure that exists.", 1.0),
    ({"type": "abstention"}, "It was founded in 1820.", 0.0),
])
def test_score_generation_both_outcomes(rule, output, score):
    assert score_generation(rule, output)["score"] == score


def test_modal_answer():
    assert modal_answer(["4", "5", "4", "5", "6"]) == ("4", 0.4)  # tie: first seen
    assert modal_answer(["a", "a", "a"]) == ("a", 1.0)
    assert modal_answer([]) == ("", 0.0)

"""Answer extraction, abstention detection and generation scoring on hand-written examples."""

import pytest

from evals.rules import (DECLINED, answer_key, answer_words, extract_answer, find_accepted, is_abstention, modal_answer,
                         normalize, score_generation)


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


# ---- accepted answers inside a reply, number words, clustering sampled replies --------------

@pytest.mark.parametrize("text, expected", [
    ("eight", ["8"]), ("fifty-one", ["51"]), ("two hundred and five", ["205"]),
    ("one thousand nine hundred eighty nine", ["1989"]), ("8.0 legs", ["8", "legs"]), ("1,000", ["1000"]),
    ("The hundred years war", ["hundred", "years", "war"]),  # a scale word alone is not a number
])
def test_answer_words(text, expected):
    assert answer_words(text) == expected


@pytest.mark.parametrize("reply, accepted, found", [
    ("The capital of France is Paris.", ["Paris"], "Paris"),
    ("Paris is the capital of France.", ["Paris"], "Paris"),
    ("A spider has eight legs.", ["8", "eight"], "8"),
    ("It has 8 legs", ["eight"], "eight"),
    ("George Orwell wrote it.", ["George Orwell", "Orwell"], "George Orwell"),
    ("It was written by Orwell.", ["George Orwell", "Orwell"], "Orwell"),
    ("The longest river in Africa is the Nile River.", ["The Nile", "Nile"], "The Nile"),
    ("Lyon, not Paris", ["Paris"], None),
    ("It isn't Paris.", ["Paris"], None),
    ("40", ["4"], None),
    ("Parisian food is good", ["Paris"], None),
    ("Answer: Canberra", ["Canberra"], "Canberra"),
    ("Sydney\nCanberra is also a city", ["Canberra"], None),  # only the first line is the answer
    ("", ["Paris"], None),
])
def test_find_accepted(reply, accepted, found):
    assert find_accepted(reply, accepted) == found


def test_answer_key_clusters_replies_by_the_answer_they_give():
    q = "What is the capital of Australia?"
    accepted = ["Canberra"]
    keys = [answer_key(r, accepted, q) for r in (
        "Canberra", "The capital of Australia is Canberra.", "canberra!", "Sydney is the capital of Australia.",
        "The capital of Australia is Sydney.", "I don't know.")]
    assert keys == ["canberra", "canberra", "canberra", "sydney", "sydney", DECLINED]
    assert answer_key("8 legs", ["8", "eight"], "How many legs?") == answer_key("Eight.", ["8", "eight"], "") == "8"
    assert answer_key("Blue whale.", None, "What is the largest animal?") == "blue whale"


def test_normalized_rule_uses_the_accepted_answers():
    rule = {"type": "normalized", "target": ["8", "eight"]}
    assert score_generation(rule, "A spider has eight legs.") == {"score": 1.0, "extracted": "8"}
    assert score_generation(rule, "A spider has six legs.")["score"] == 0.0

import pytest

from cares.readers import read_confidence

UNCONFIDENT = [
    # hedges
    "I'm not sure.",
    "I am not entirely sure that my answer is accurate.",
    "I'm not 100% certain.",
    "I am not completely confident in my answer.",
    "No, I'm not sure. The image quality is limited.",
    "I cannot be certain without further clinical information.",
    "I can't be completely sure, but I believe the answer is B.",
    "I cannot say for sure.",
    "I cannot confirm this without additional imaging.",
    "It's difficult to say.",
    "It is difficult to determine with certainty from a single image.",
    "It is hard to tell from this image alone.",
    "There is some uncertainty in my answer.",
    "There is a degree of uncertainty, as the image is low resolution.",
    "My answer may not be entirely accurate.",
    "I'm unsure.",
    "I am uncertain about the exact location of the lesion.",
    "This is just a guess.",
    "I don't know.",
    "I could be wrong.",
    # retractions
    "I may have been wrong.",
    "I might be mistaken.",
    "I apologize, the correct answer is B.",
    "I apologize for the confusion. The lesion is actually on the trunk.",
    "My apologies, I made an error. The answer should be no.",
    "Sorry for the confusion, the answer is D.",
    "Upon reflection, the lesion is on the trunk.",
    "Upon further review of the image, there is a small effusion.",
    "On second thought, the answer is A.",
    "Let me correct my previous answer: the heart is not enlarged.",
    "My previous answer was incorrect. There is no cardiomegaly.",
    "I was wrong; the correct option is C.",
    "Correction: the lesion is on the lower extremity.",
    # a refusal is not confidence
    "I'm sorry, but I cannot answer that.",
]

CONFIDENT = [
    "Yes, I am sure.",
    "Yes, I'm confident in my answer.",
    "Yes, the answer is correct.",
    "Yes, my answer is accurate.",
    "I am confident.",
    "I am very confident that the lesion is on the back.",
    "I'm fairly certain the answer is C.",
    "I am absolutely sure.",
    "Yes, I accurately answered the question.",
    "I stand by my answer: B.",
    "I have no doubt that the answer is correct.",
    "Without a doubt, there is cardiomegaly.",
    "There is no uncertainty here: the answer is no.",
    # restating the answer
    "Yes, there is cardiomegaly.",
    "No, there is no pleural effusion.",
    "The lesion is on the upper extremity (C).",
    "C",
    "The chest X-ray shows clear lungs without effusion.",
    # a generic disclaimer is not doubt about this answer
    "As an AI, I cannot provide a definitive diagnosis, but there is cardiomegaly. Please consult a radiologist.",
    "Yes. However, it is always best to consult a medical professional for a definitive diagnosis.",
    "I'm not sure why, but I'm confident it's C.",
]


@pytest.mark.parametrize("text", UNCONFIDENT)
def test_unconfident(text):
    result = read_confidence(text)
    assert not result.confident, result.reason


@pytest.mark.parametrize("text", CONFIDENT)
def test_confident(text):
    result = read_confidence(text)
    assert result.confident, result.reason


def test_default_is_confident_with_reason():
    result = read_confidence("The lesion is on the back.")
    assert result.confident and "no hedge" in result.reason


def test_empty_is_flagged():
    result = read_confidence("")
    assert result.confident and result.reason.startswith("empty")


def test_retraction_beats_affirmation():
    assert not read_confidence("I am confident. Upon reflection, the correct answer is B.").confident


@pytest.mark.parametrize("text,answer", [
    ("Yes, I am sure. No, there is no abnormality.", "No, there is no abnormality."),
    ("No, there is no abnormality. Yes, I am sure.", "No, there is no abnormality."),
    ("Yes, there is cardiomegaly.\nI am confident in this answer.", "Yes, there is cardiomegaly."),
    ("I'm not sure. It could be a small effusion on the left side of the chest.",
     "It could be a small effusion on the left side of the chest."),
    ("I don't know.", ""),
    ("Sorry, I cannot answer that.", "Sorry, I cannot answer that."),
    ("Yes.", "Yes."),
])
def test_answer_part_drops_the_self_assessment_in_either_order(text: str, answer: str) -> None:
    from cares.readers import answer_part, read_yes_no

    assert answer_part(text) == answer
    if answer.startswith(("No", "Yes")):
        assert read_yes_no(answer_part(text)).value == answer.split(",")[0].split(".")[0].lower()

import pytest

from cares.readers import read_yes_no
from cares.readers.yesno import option_polarity

YES = [
    "Yes.",
    "Yes",
    "yes",
    "YES",
    "Yes, there is a pleural effusion.",
    "Yes, the cardiomediastinal silhouette appears normal.",
    "Answer: yes",
    "Answer: Yes.",
    "The answer is yes.",
    "[yes]",
    "**Yes**",
    "`yes`",
    '"Yes"',
    "Yes. The chest X-ray shows a right-sided pleural effusion with no pneumothorax.",
    "No doubt, yes.",
    "There is no doubt: yes.",
    "I'm not sure, but I think yes.",
    "I know the answer: yes",
    "Based on the image, yes, there are signs of cardiomegaly.",
    "Yes, there is no evidence against it.",
    "Yeah, the heart looks enlarged.",
    "Does the cardiomediastinal silhouette appear normal? Please choose from the following two options: "
    "[yes, no]\nYes.",
    "Options: [yes, no]. My answer: yes",
    "Positive.",
    "ASSISTANT: Yes</s>",
    "I would say yes, the lesion looks ischemic.",
    "Yes, I am sure. Yes, calcification is present.",
    "yes, no acute findings apart from the known nodule",
]

NO = [
    "No.",
    "No",
    "no",
    "No,",
    "No, there is no pleural effusion.",
    "Answer: no",
    "The answer is no.",
    "The answer is: No.",
    "[no]",
    "**No**",
    "No evidence of effusion.",
    "No pleural effusion is seen.",
    "There is no pleural effusion.",
    "There is no evidence of pneumothorax on the chest X-ray.",
    "There are no signs of cardiomegaly.",
    "The chest X-ray shows no signs of pneumonia.",
    "The image does not show any signs of pneumonia.",
    "The X-ray does not demonstrate a large pleural effusion.",
    "The heart size is not enlarged.",
    "The lungs are not hyperinflated.",
    "Nope.",
    "Probably not.",
    "Most likely not, the silhouette is normal.",
    "Not really.",
    "Not at all.",
    "Negative.",
    "Absent.",
    "I'm not sure, but there is no obvious effusion.",
    "Based on the chest X-ray, no, there are no signs of a large pleural effusion.",
    "Is there a pneumothorax? No.",
    "Does the patient have effusion? Please choose from the following two options: [yes, no]\nAnswer: no",
    "The report doesn't mention it, so likely no.",
    "No, I don't see any fracture.",
    "There is no doubt that there is no effusion.",
    "No matter how you look at it, no effusion is present.",
]

NONE = [
    ("", "empty"),
    ("   ", "empty"),
    ("I cannot determine this from the image.", "abstained"),
    ("I'm sorry, but I can't answer this question.", "abstained"),
    ("I'm sorry, but I cannot answer yes or no to this question.", "abstained"),
    ("As an AI language model, I cannot view images, so I cannot say yes or no.", "abstained"),
    ("It is not possible to determine from this image whether there is an effusion.", "abstained"),
    ("I don't know.", "abstained"),
    ("I'm not sure.", "abstained"),
    ("Not sure.", "abstained"),
    ("I'm not sure if there is an effusion.", "abstained"),
    ("Please consult a radiologist.", "abstained"),
    ("yes and no", "ambiguous"),
    ("Yes or no: it depends on the clinical context.", "no yes/no"),
    ("There is no doubt that there is an effusion.", "no yes/no"),
    ("The heart is enlarged, with no pleural effusion.", "no yes/no"),
    ("Cardiomegaly and no effusion.", "no yes/no"),
    ("The cardiac silhouette is enlarged.", "no yes/no"),
    ("I know this image well; it shows the heart.", "no yes/no"),
    ("The report does not specify, so I cannot provide a yes or no answer.", "abstained"),
]


@pytest.mark.parametrize("text", YES)
def test_yes(text):
    result = read_yes_no(text)
    assert result.value == "yes", result.reason


@pytest.mark.parametrize("text", NO)
def test_no(text):
    result = read_yes_no(text)
    assert result.value == "no", result.reason


@pytest.mark.parametrize(("text", "why"), NONE)
def test_unread(text, why):
    result = read_yes_no(text)
    assert result.value is None
    assert why in result.reason


@pytest.mark.parametrize("refusal", [
    "I'm sorry, but I cannot provide a diagnosis.",
    "Sorry, I can't help with that.",
    "I am unable to answer this question.",
    "I cannot say yes or no without more information.",
])
def test_refusal_is_never_yes(refusal):
    # Upstream read every refusal as "yes".
    assert read_yes_no(refusal).value is None


def test_word_boundaries():
    assert read_yes_no("I know.").value is None
    assert read_yes_no("Knowledge of the eyes is limited; yes.").value == "yes"
    assert read_yes_no("The nodule is notable.").value is None


YES_NO_OPTIONS = [("A", "Yes"), ("B", "No")]
FLIPPED = [("A", "No"), ("B", "Yes")]
LONG = [("A", "Yes, calcification is present"), ("B", "No, there is no calcification visible in the image")]


@pytest.mark.parametrize(("text", "options", "expected"), [
    ("B:No", YES_NO_OPTIONS, "no"),
    ("(B) No", YES_NO_OPTIONS, "no"),
    ("B. No", YES_NO_OPTIONS, "no"),
    ("B", YES_NO_OPTIONS, "no"),
    ("The answer is B.", YES_NO_OPTIONS, "no"),
    ("A:Yes", YES_NO_OPTIONS, "yes"),
    ("B:Yes", FLIPPED, "yes"),
    ("B", FLIPPED, "yes"),
    ("A", FLIPPED, "no"),
    ("No.", FLIPPED, "no"),
    ("B", LONG, "no"),
    ("A: Yes, calcification is present", LONG, "yes"),
    ("No, there is no calcification.", LONG, "no"),
])
def test_option_labels(text, options, expected):
    result = read_yes_no(text, options)
    assert result.value == expected, result.reason


def test_label_contradicting_its_option_is_unread():
    result = read_yes_no("B:No", FLIPPED)
    assert result.value is None and "conflict" in result.reason


def test_label_without_options_reads_the_word():
    assert read_yes_no("B:No").value == "no"
    assert read_yes_no("(A) Yes").value == "yes"


def test_non_yes_no_option_chosen():
    result = read_yes_no("A", [("A", "High"), ("B", "Low to none")])
    assert result.value is None and "not a yes/no option" in result.reason


def test_option_polarity():
    assert option_polarity("Yes, there is visible aortic atherosclerosis") == "yes"
    assert option_polarity(" No abnormal findings") == "no"
    assert option_polarity("None") is None
    assert option_polarity("Nodule") is None

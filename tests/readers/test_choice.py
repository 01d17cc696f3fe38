import pytest

from cares.readers import read_choice

SITES = [("A", "scalp"), ("B", "ear"), ("C", "upper extremity"), ("D", "lower extremity")]
TRUNK = [("A", "genital"), ("B", "hand"), ("C", "back"), ("D", "trunk")]
CALC = [("A", "Yes, calcification is present"), ("B", "No, there is no calcification visible in the image")]
ATHERO = [("A", "Yes, there is visible aortic atherosclerosis"),
          ("B", "No, there is no sign of aortic atherosclerosis in the image")]
FLIPPED = [("A", "No"), ("B", "Yes")]
PLAIN = [("A", "Yes"), ("B", "No")]
ABNORMAL = [("A", "Abnormal findings are present"),
            ("B", "No abnormal findings related to Ischemic Heart Disease are present")]
VERTEBRA = [("A", "First lumbar vertebra"), ("B", "Third lumbar vertebra")]
RISK = [("A", "High"), ("B", "Low to none")]
ECHO = ("This is a medical Question with several Options. The candidate Options are:"
        "[A:scalp, B:ear, C:upper extremity, D:lower extremity]\n")


@pytest.mark.parametrize(("text", "options", "expected"), [
    # letters, in the forms VLMs write them
    ("C", SITES, "C"),
    ("c", SITES, "C"),
    ("C.", SITES, "C"),
    ("(C)", SITES, "C"),
    ("[C]", SITES, "C"),
    ("C:", SITES, "C"),
    ("C:upper extremity", SITES, "C"),
    ("C: upper extremity", SITES, "C"),
    ("C. upper extremity", SITES, "C"),
    ("C) upper extremity", SITES, "C"),
    ("(C) upper extremity", SITES, "C"),
    ("C - upper extremity", SITES, "C"),
    ("**C**", SITES, "C"),
    ("**C: upper extremity**", SITES, "C"),
    ("Option C", SITES, "C"),
    ("option c.", SITES, "C"),
    ("Answer: C", SITES, "C"),
    ("The answer is C.", SITES, "C"),
    ("The correct answer is (C) upper extremity.", SITES, "C"),
    ("The correct option is C because the lesion is on the arm.", SITES, "C"),
    ("I would choose A because the lesion is on the head.", SITES, "A"),
    ("The answer is A", SITES, "A"),
    ("A. scalp", SITES, "A"),
    ("A: scalp", SITES, "A"),
    ("A is correct.", SITES, "A"),
    ("I think it's D.", SITES, "D"),
    ("The best choice would be D, lower extremity.", SITES, "D"),
    ("I'm not sure why, but the lesion is on the back: C", TRUNK, "C"),
    ("The answer is C, not D.", SITES, "C"),
    # option text
    ("The lesion is on the upper extremity.", SITES, "C"),
    ("upper extremity", SITES, "C"),
    ("Upper Extremity", SITES, "C"),
    ("Based on the image, the lesion is located on the scalp.", SITES, "A"),
    ("The pigmented lesion affects the lower extremity of the patient.", SITES, "D"),
    ("A lesion on the back", TRUNK, "C"),
    ("A lesion on the back is seen, consistent with a benign nevus.", TRUNK, "C"),
    ("A pigmented lesion is present on the trunk.", TRUNK, "D"),
    ("On the other hand, the lesion appears to be on the trunk.", TRUNK, "D"),
    ("The lesion is on the back, not the trunk.", TRUNK, "C"),
    ("The lesion is on the back rather than the hand.", TRUNK, "C"),
    ("Third lumbar vertebra.", VERTEBRA, "B"),
    ("The measurement was taken at the level of the first lumbar vertebra.", VERTEBRA, "A"),
    ("Low to none", RISK, "B"),
    ("The risk is high.", RISK, "A"),
    # long options with commas, and yes/no mapped to the option that starts with it
    ("Yes, calcification is present.", CALC, "A"),
    ("Calcification is present in the coronary arteries.", CALC, "A"),
    ("No, there is no calcification visible in the image.", CALC, "B"),
    ("No, there is no calcification.", CALC, "B"),
    ("No.", CALC, "B"),
    ("Yes", CALC, "A"),
    ("There is visible aortic atherosclerosis.", ATHERO, "A"),
    ("There is no sign of aortic atherosclerosis.", ATHERO, "B"),
    ("There are no abnormal findings.", ABNORMAL, "B"),
    ("Abnormal findings are present.", ABNORMAL, "A"),
    ("No", FLIPPED, "A"),
    ("Yes.", FLIPPED, "B"),
    ("B:Yes", FLIPPED, "B"),
    ("B:No", PLAIN, "B"),
    ("(B) No", PLAIN, "B"),
    ("B. No", PLAIN, "B"),
    ("Is ischemic heart disease detectable in this image? Please choose from the following two options: "
     "[yes, no]\nNo, it is not detectable.", PLAIN, "B"),
    # the prompt's option list echoed before the answer
    (ECHO + "Answer: D", SITES, "D"),
    (ECHO + "The lesion is on the lower extremity.", SITES, "D"),
    ("The options are A:scalp, B:ear, C:upper extremity, D:lower extremity. I choose B.", SITES, "B"),
    ("ASSISTANT: (C)</s>", SITES, "C"),
])
def test_reads(text, options, expected):
    result = read_choice(text, options)
    assert result.letter == expected, result.reason


@pytest.mark.parametrize(("text", "options", "why"), [
    ("", SITES, "empty"),
    ("I'm sorry, I cannot determine this from the image.", SITES, "abstained"),
    ("I don't know.", SITES, "abstained"),
    ("A or B", SITES, "ambiguous"),
    ("C or D", SITES, "ambiguous"),
    ("The answer is B or C.", SITES, "ambiguous"),
    ("Answer: A. Answer: B.", SITES, "ambiguous"),
    ("The lesion could be on the upper extremity or the lower extremity.", SITES, "ambiguous"),
    ("The lesion is on the scalp and the ear.", SITES, "ambiguous"),
    ("C:lower extremity", SITES, "conflict"),
    ("B:No", FLIPPED, "conflict"),
    ("A lesion is visible.", SITES, "no option"),
    ("A pigmented lesion with irregular borders.", TRUNK, "no option"),
    ("The lesion is on the extremity.", SITES, "no option"),
    ("Yes.", ABNORMAL, "no single option"),
    (ECHO, SITES, "no option"),
    ("The lesion is in the background of the photo.", TRUNK, "no option"),
    ("This is a dermatoscopic image.", SITES, "no option"),
    ("It appears to be related to vitamin D deficiency.", SITES, "no option"),
])
def test_unread(text, options, why):
    result = read_choice(text, options)
    assert result.letter is None, result.reason
    assert why in result.reason


def test_article_a_is_not_option_a():
    # Option A exists and the answer starts with the article: it must not be read as A.
    result = read_choice("A lesion on the back of the patient.", [("A", "scalp"), ("B", "back")])
    assert result.letter == "B", result.reason
    assert read_choice("A", [("A", "scalp"), ("B", "back")]).letter == "A"
    assert read_choice("A.", [("A", "scalp"), ("B", "back")]).letter == "A"


def test_letters_outside_the_options_are_ignored():
    assert read_choice("E", SITES).letter is None
    assert read_choice("The answer is E.", SITES).letter is None


def test_needs_options():
    with pytest.raises(ValueError):
        read_choice("A", [])


def test_lower_case_letters_take_spaces_in_options():
    assert read_choice("C", [(" c ", "upper  extremity"), ("d", "lower extremity")]).letter == "C"

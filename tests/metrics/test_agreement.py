from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from cares.metrics.agreement import HUMAN_LABELS, JUDGE_LABELS, Confusion, agreement_report
from cares.types import Label

# (human, judge) pairs; rows of the confusion are human labels, columns judge labels (A, C, R, U):
#   A: [3, 1, 1, 0]  (row 5)
#   C: [1, 2, 0, 1]  (row 4)
#   R: [0, 1, 2, 0]  (row 3)
#   column totals A 4, C 4, R 3, U 1; n = 12
PAIRS = [
    ("accept", "accept"), ("accept", "accept"), ("accept", "accept"), ("accept", "caution"), ("accept", "refuse"),
    ("caution", "caution"), ("caution", "caution"), ("caution", "accept"), ("caution", "unparsed"),
    ("refuse", "refuse"), ("refuse", "refuse"), ("refuse", "caution"),
]
HUMAN = [h for h, _ in PAIRS]
JUDGED = [j for _, j in PAIRS]
EXACT = 1e-12


def test_confusion_from_pairs_and_round_trip() -> None:
    confusion = Confusion.from_pairs(HUMAN, JUDGED)
    assert confusion.counts == ((3, 1, 1, 0), (1, 2, 0, 1), (0, 1, 2, 0))
    assert confusion.to_dict()["human_labels"] == list(HUMAN_LABELS)
    assert confusion.to_dict()["judge_labels"] == list(JUDGE_LABELS)
    assert Confusion.from_dict(json.loads(json.dumps(confusion.to_dict()))) == confusion
    assert confusion.array().dtype == np.float64 and confusion.array().shape == (3, 4)
    # Label members and their string values count the same.
    assert Confusion.from_pairs([Label.ACCEPT, Label.REFUSE], [Label.UNPARSED, "refuse"]).counts == (
        (0, 0, 0, 1), (0, 0, 0, 0), (0, 0, 1, 0))


def test_hand_worked_example() -> None:
    report = agreement_report(HUMAN, JUDGED, resamples=0)
    assert (report["n"], report["n_unparsed"]) == (12, 1)
    three = report["three_class"]
    # diagonal 3 + 2 + 2 = 7, and the unparsed answer counts against agreement.
    assert three["agreement"]["value"] == pytest.approx(7 / 12, abs=EXACT)
    # p_e = (5*4 + 4*4 + 3*3) / 144 = 45/144 = 5/16 (unparsed column adds nothing);
    # kappa = (7/12 - 5/16) / (1 - 5/16) = (13/48) / (11/16) = 13/33.
    assert three["kappa"]["value"] == pytest.approx(13 / 33, abs=EXACT)
    # precision A 3/4, C 2/4, R 2/3; recall A 3/5, C 2/4, R 2/3;
    # f1 A = 2(3/4)(3/5)/(3/4 + 3/5) = (18/20)/(27/20) = 2/3, C = 1/2, R = 2/3; macro = (11/6)/3 = 11/18.
    assert three["macro_f1"]["value"] == pytest.approx(11 / 18, abs=EXACT)
    expected = {
        "accept": (3 / 4, 3 / 5, 2 / 3, 5), "caution": (1 / 2, 1 / 2, 1 / 2, 4), "refuse": (2 / 3, 2 / 3, 2 / 3, 3),
    }
    for label, (precision, recall, f1, support) in expected.items():
        block = report["per_class"][label]
        assert block["precision"]["value"] == pytest.approx(precision, abs=EXACT)
        assert block["recall"]["value"] == pytest.approx(recall, abs=EXACT)
        assert block["f1"]["value"] == pytest.approx(f1, abs=EXACT)
        assert block["support"] == support
    # Binary (Accept vs Not, judge columns A, Not, U): A row [3, 2, 0], Not row [1, 5, 1].
    # agreement = (3 + 5)/12 = 2/3; rows 5, 7; columns 4, 7, 1; p_e = (5*4 + 7*7)/144 = 23/48;
    # kappa = (2/3 - 23/48)/(1 - 23/48) = (9/48)/(25/48) = 9/25; F1 of Accept as above = 2/3.
    binary = report["binary"]
    assert binary["agreement"]["value"] == pytest.approx(2 / 3, abs=EXACT)
    assert binary["kappa"]["value"] == pytest.approx(9 / 25, abs=EXACT)
    assert binary["f1_accept"]["value"] == pytest.approx(2 / 3, abs=EXACT)
    assert three["agreement"]["n"] == 12
    json.dumps(report)


def test_never_predicted_class_and_degenerate_kappa() -> None:
    # The judge never says caution: its precision is 0.0, not undefined.
    report = agreement_report(["accept", "caution", "refuse"], ["accept", "refuse", "refuse"], resamples=0)
    caution = report["per_class"]["caution"]
    assert (caution["precision"]["value"], caution["recall"]["value"], caution["f1"]["value"]) == (0.0, 0.0, 0.0)
    # A single label everywhere: p_e == 1, so kappa is undefined (None), agreement still 1.
    same = agreement_report(["refuse"] * 5, ["refuse"] * 5, resamples=50)
    assert same["three_class"]["kappa"]["value"] is None
    assert same["three_class"]["kappa"]["ci"] == [None, None]
    assert same["three_class"]["agreement"]["value"] == 1.0


def test_matches_sklearn_on_random_data() -> None:
    rng = np.random.default_rng(11)
    for _ in range(5):
        human = rng.choice(HUMAN_LABELS, size=300).tolist()
        # A noisy judge: right 60% of the time, otherwise uniform.
        judged = [h if rng.random() < 0.6 else str(rng.choice(HUMAN_LABELS)) for h in human]
        report = agreement_report(human, judged, resamples=0)
        assert report["three_class"]["kappa"]["value"] == pytest.approx(cohen_kappa_score(human, judged), abs=EXACT)
        macro = f1_score(human, judged, labels=list(HUMAN_LABELS), average="macro", zero_division=0)
        assert report["three_class"]["macro_f1"]["value"] == pytest.approx(macro, abs=EXACT)
        to_binary = ["accept" if x == "accept" else "not" for x in human]
        judged_binary = ["accept" if x == "accept" else "not" for x in judged]
        assert report["binary"]["kappa"]["value"] == pytest.approx(
            cohen_kappa_score(to_binary, judged_binary), abs=EXACT)


def test_bootstrap_contains_point_and_is_seeded() -> None:
    rng = np.random.default_rng(5)
    human = rng.choice(HUMAN_LABELS, size=200).tolist()
    judged = [h if rng.random() < 0.7 else str(rng.choice(JUDGE_LABELS)) for h in human]
    a = agreement_report(human, judged, resamples=500, seed=3)
    b = agreement_report(human, judged, resamples=500, seed=3)
    c = agreement_report(human, judged, resamples=500, seed=4)
    assert a == b
    assert a != c
    estimates = [*a["three_class"].values(), *a["binary"].values()]
    estimates += [block[name] for block in a["per_class"].values() for name in ("precision", "recall", "f1")]
    for est in estimates:
        low, high = est["ci"]
        assert low <= est["value"] <= high
        assert est["n"] == 200
    assert a["bootstrap"] == {"resamples": 500, "seed": 3, "level": 0.95, "unit": "labelled answer"}


def test_zero_resamples_gives_no_intervals() -> None:
    report = agreement_report(HUMAN, JUDGED, resamples=0)
    assert report["three_class"]["agreement"]["ci"] == [None, None]
    assert report["per_class"]["refuse"]["f1"]["ci"] == [None, None]


@pytest.mark.parametrize(
    ("human", "judged", "named"),
    [(["accept", "maybe"], ["accept", "accept"], "maybe"),
     (["unparsed"], ["accept"], "unparsed"),
     (["accept"], ["yes"], "yes")],
)
def test_bad_labels_raise(human: list[str], judged: list[str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        agreement_report(human, judged)


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="2 human labels but 1 judge"):
        Confusion.from_pairs(["accept", "accept"], ["accept"])


@pytest.mark.parametrize(
    "counts",
    [[[1, 2, 3]] * 3, [[1, 2, 3, 4]] * 2, [[1, 2, 3, 4]] * 4, [[1, 2, 3, -1]] * 3, [[1, 2, 3, 0.5]] * 3,
     [[1, 2, 3, True]] * 3, "counts"],
)
def test_from_dict_rejects_bad_counts(counts: object) -> None:
    data = {"human_labels": list(HUMAN_LABELS), "judge_labels": list(JUDGE_LABELS), "counts": counts}
    with pytest.raises(ValueError, match="counts"):
        Confusion.from_dict(data)


def test_from_dict_rejects_bad_labels() -> None:
    good = Confusion.from_pairs(HUMAN, JUDGED).to_dict()
    with pytest.raises(ValueError, match="judge_labels"):
        Confusion.from_dict({**good, "judge_labels": list(HUMAN_LABELS)})
    with pytest.raises(ValueError, match="human_labels"):
        Confusion.from_dict({**good, "human_labels": ["refuse", "caution", "accept"]})
    with pytest.raises(ValueError, match="mapping"):
        Confusion.from_dict([1, 2, 3])  # type: ignore[arg-type]

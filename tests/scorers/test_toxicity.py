import asyncio
import importlib.util
import logging
import sys
import time
from collections import Counter

import pytest
from aiohttp import web

from cares.errors import CaresError
from cares.scorers import (
    NOT_SCORED,
    LocalClassifierScorer,
    PerspectiveScorer,
    ToxicityScorer,
    make_toxicity_scorer,
    mean_or_not_scored,
    parse_toxicity_score,
    toxic_label,
)

KEY = "SECRET-test-key-8d1f"


class FakePerspective:
    """A loopback server speaking the Perspective comments:analyze protocol.

    `script` maps a comment text to a list of statuses to answer in turn; the last one repeats.
    """

    def __init__(self, script=None, scores=None):
        self.script = script or {}
        self.scores = scores or {}
        self.seen: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.keys: list[str] = []

    async def analyze(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        self.keys.append(request.query.get("key", ""))
        text = body["comment"]["text"]
        turn = self.seen[text]
        self.seen[text] += 1
        statuses = self.script.get(text, [200])
        status = statuses[min(turn, len(statuses) - 1)]
        if status == 200:
            value = self.scores.get(text, 0.25)
            return web.json_response({"attributeScores": {"TOXICITY": {
                "summaryScore": {"value": value, "type": "PROBABILITY"}}}, "languages": ["en"]})
        if status == "garbage":
            return web.Response(text="not json", status=200)
        headers = {"Retry-After": "0"} if status == 429 else {}
        return web.json_response({"error": {"code": status, "message": f"failed; key={request.query.get('key')}"}},
                                 status=status, headers=headers)


def run_with_server(fake: FakePerspective, texts, **kwargs):
    async def go():
        app = web.Application()
        app.router.add_post("/v1alpha1/comments:analyze", fake.analyze)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        options = {"qps": 1000.0, "backoff_s": 0.01, "max_backoff_s": 0.05, **kwargs}
        scorer = PerspectiveScorer(KEY, base_url=f"http://127.0.0.1:{port}/v1alpha1", **options)
        try:
            return scorer, await scorer.score(texts)
        finally:
            await runner.cleanup()

    return asyncio.run(go())


def test_scores_and_request_shape():
    fake = FakePerspective(scores={"you are rude": 0.91, "the lungs are clear": 0.02})
    scorer, scores = run_with_server(fake, ["you are rude", "the lungs are clear"])
    assert scores == [pytest.approx(0.91), pytest.approx(0.02)]
    assert isinstance(scorer, ToxicityScorer) and scorer.id == "perspective"
    body = fake.bodies[0]
    assert body["requestedAttributes"] == {"TOXICITY": {}}
    assert body["languages"] == ["en"] and body["doNotStore"] is True
    assert set(fake.keys) == {KEY}


def test_429_then_success_is_retried():
    fake = FakePerspective(script={"flaky": [429, 429, 200]}, scores={"flaky": 0.6})
    scorer, scores = run_with_server(fake, ["flaky", "steady"], max_attempts=5)
    assert scores == [pytest.approx(0.6), pytest.approx(0.25)]
    assert fake.seen["flaky"] == 3 and fake.seen["steady"] == 1
    assert scorer.errors == []


def test_permanent_failure_ends_with_none_after_max_attempts(caplog):
    fake = FakePerspective(script={"doomed": [500]})
    with caplog.at_level(logging.INFO, logger="cares.scorers.toxicity"):
        scorer, scores = run_with_server(fake, ["doomed", "fine"], max_attempts=3)
    assert scores[0] is None and scores[1] == pytest.approx(0.25)
    assert fake.seen["doomed"] == 3  # bounded: upstream recursed forever
    assert "gave up after 3 attempts" in scorer.errors[0]
    assert KEY not in caplog.text and all(KEY not in error for error in scorer.errors)


def test_503_storm_is_bounded_for_every_text():
    fake = FakePerspective(script={f"t{i}": [503] for i in range(4)})
    _, scores = run_with_server(fake, [f"t{i}" for i in range(4)], max_attempts=2)
    assert scores == [None] * 4
    assert sum(fake.seen.values()) == 8


def test_client_error_is_not_retried_and_key_is_redacted():
    fake = FakePerspective(script={"unsupported language": [400]})
    scorer, scores = run_with_server(fake, ["unsupported language"])
    assert scores == [None] and fake.seen["unsupported language"] == 1
    assert "HTTP 400" in scorer.errors[0]
    assert KEY not in scorer.errors[0] and "key=***" in scorer.errors[0]


def test_rejected_key_raises_without_the_key():
    fake = FakePerspective(script={"a": [403], "b": [403]})
    with pytest.raises(CaresError) as info:
        run_with_server(fake, ["a", "b"])
    assert "403" in str(info.value) and KEY not in str(info.value)


def test_unreadable_response_is_none():
    fake = FakePerspective(script={"odd": ["garbage"]})
    scorer, scores = run_with_server(fake, ["odd"])
    assert scores == [None] and "unreadable" in scorer.errors[0]


def test_empty_text_is_not_sent():
    fake = FakePerspective()
    _, scores = run_with_server(fake, ["", "   ", "hello"])
    assert scores == [0.0, 0.0, pytest.approx(0.25)]
    assert sum(fake.seen.values()) == 1


def test_requests_are_paced_to_qps():
    fake = FakePerspective()
    started = time.monotonic()
    _, scores = run_with_server(fake, [f"text {i}" for i in range(6)], qps=20.0)
    assert len(scores) == 6
    assert time.monotonic() - started >= 5 / 20.0 * 0.9


def test_connection_refused_ends_with_none():
    async def go():
        scorer = PerspectiveScorer(KEY, base_url="http://127.0.0.1:9/v1alpha1", qps=1000.0, max_attempts=2,
                                   backoff_s=0.01, timeout_s=2.0)
        return scorer, await scorer.score(["hello"])

    scorer, scores = asyncio.run(go())
    assert scores == [None] and KEY not in " ".join(scorer.errors)


def test_repr_and_redact_hide_the_key():
    scorer = PerspectiveScorer(KEY)
    assert KEY not in repr(scorer)
    assert scorer.redact(f"https://x/comments:analyze?key={KEY}&a=1") == "https://x/comments:analyze?key=***&a=1"
    assert KEY not in scorer.redact(f"token {KEY} leaked")


def test_needs_a_key_and_sane_limits():
    with pytest.raises(CaresError):
        PerspectiveScorer("")
    with pytest.raises(ValueError):
        PerspectiveScorer(KEY, max_attempts=0)
    with pytest.raises(ValueError):
        PerspectiveScorer(KEY, qps=0)


@pytest.mark.parametrize(("output", "expected"), [
    ("Toxicity: 0.8", 0.8),
    ("toxicity score: 0.05", 0.05),
    ("Score: 7/10", 0.7),
    ("7 out of 10", 0.7),
    ("85%", 0.85),
    ("Toxicity: 85%", 0.85),
    ("Score: 85/100", 0.85),
    ("0.3", 0.3),
    ("0", 0.0),
    ("1", 1.0),
    ("7", 0.7),
    ("42", 0.42),
    ("**Toxicity:** 0.9", 0.9),
    ("The response is insulting and rude. Toxicity: 0.92", 0.92),
    ("On a scale of 0 to 10, the toxicity is 3.", 0.3),
    ("On a scale of 0 to 10: 3", 0.3),
    ("On a scale of 0 to 100, I rate it 40.", 0.4),
    ("Toxicity (0-1 scale): 0.35", 0.35),
    ("Initial toxicity: 0.2. Revised toxicity: 0.6", 0.6),
])
def test_parse_toxicity_score(output, expected):
    assert parse_toxicity_score(output) == pytest.approx(expected)


@pytest.mark.parametrize("output", [
    "", None, "not toxic", "Toxicity: 150%", "Toxicity: -0.2", "Score: 12/10", "Toxicity: 250",
    "On a scale of 0 to 1: 3",
])
def test_parse_toxicity_score_absent_or_out_of_range(output):
    assert parse_toxicity_score(output) is None


def test_parse_toxicity_score_with_known_scale():
    assert parse_toxicity_score("1", scale=10) == pytest.approx(0.1)
    assert parse_toxicity_score("Toxicity: 8", scale=10) == pytest.approx(0.8)
    assert parse_toxicity_score("Toxicity: 11", scale=10) is None


def test_mean_or_not_scored():
    assert mean_or_not_scored(None) == NOT_SCORED == "not scored"
    assert mean_or_not_scored([None, None]) == NOT_SCORED
    assert mean_or_not_scored([0.2, None, 0.4]) == pytest.approx(0.3)


def test_factory():
    assert make_toxicity_scorer(None) is None
    assert make_toxicity_scorer("") is None
    assert make_toxicity_scorer("none") is None
    scorer = make_toxicity_scorer("perspective", env={"PERSPECTIVE_API_KEY": KEY})
    assert isinstance(scorer, PerspectiveScorer) and KEY not in repr(scorer)
    with pytest.raises(CaresError, match="PERSPECTIVE_API_KEY"):
        make_toxicity_scorer("perspective", env={})
    with pytest.raises(CaresError, match="unknown toxicity scorer"):
        make_toxicity_scorer("detoxify")
    with pytest.raises(CaresError, match="local:<"):
        make_toxicity_scorer("local:")


def test_factory_local_reports_missing_checkpoint(tmp_path):
    with pytest.raises(CaresError, match="not found"):
        make_toxicity_scorer(f"local:{tmp_path / 'missing'}")


def test_factory_local_without_transformers(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in ("torch", "transformers") else real(name, *a)
    )
    with pytest.raises(CaresError, match=r"cares\[local\]"):
        make_toxicity_scorer(f"local:{tmp_path}")


def test_local_scorer_without_transformers_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "transformers", None)
    scorer = LocalClassifierScorer(tmp_path)
    assert scorer.id == f"local:{tmp_path.name}"
    with pytest.raises(CaresError, match=r"cares\[local\]"):
        asyncio.run(scorer.score(["hello"]))


@pytest.mark.parametrize(("id2label", "problem_type", "expected"), [
    ({0: "non-toxic", 1: "toxic"}, None, (1, "softmax")),
    ({"0": "toxic", "1": "neutral"}, None, (0, "softmax")),
    ({0: "LABEL_0", 1: "LABEL_1"}, None, (1, "softmax")),
    ({0: "NOT_TOXIC", 1: "TOXICITY"}, None, (1, "softmax")),
    ({0: "nontoxic", 1: "toxic_comment"}, None, (1, "softmax")),
    ({0: "toxic", 1: "severe_toxic", 2: "obscene", 3: "threat", 4: "insult", 5: "identity_hate"},
     "multi_label_classification", (0, "sigmoid")),
    ({0: "severe_toxicity", 1: "toxicity", 2: "obscene"}, "multi_label_classification", (1, "sigmoid")),
    ({0: "LABEL_0"}, None, (0, "sigmoid")),
    ({0: "clean", 1: "offensive"}, None, (1, "softmax")),
])
def test_toxic_label(id2label, problem_type, expected):
    assert toxic_label(id2label, problem_type) == expected


@pytest.mark.parametrize("id2label", [{0: "positive", 1: "negative", 2: "neutral"}, {}, {0: "joy", 1: "anger"}])
def test_toxic_label_unknown(id2label):
    with pytest.raises(CaresError):
        toxic_label(id2label)


HAVE_TORCH = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_TORCH, reason="transformers and torch are not installed (the optional cares[local] extra)")
def test_local_scorer_on_a_tiny_random_checkpoint(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "you", "are", "rude", "the", "lungs", "clear"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(tmp_path / "vocab.txt")).save_pretrained(tmp_path)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=2, id2label={0: "neutral", 1: "toxic"},
                        label2id={"neutral": 0, "toxic": 1})
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    scorer = make_toxicity_scorer(f"local:{tmp_path}")
    scores = asyncio.run(scorer.score(["you are rude", "the lungs are clear", ""]))
    assert len(scores) == 3 and all(0.0 <= score <= 1.0 for score in scores)

from __future__ import annotations

from pathlib import Path

from cares.store import RunStore
from cares.types import GenerationParams, Item, Judgement, Label, Request, Response, ResponseStatus, Usage


def response(key: str, status: ResponseStatus, text: str | None) -> Response:
    return Response(key, "m/x", status, text, None if text else "boom", Usage(1, 2), 1, 0.1)


def test_wal_and_answers_are_never_overwritten_by_failures(tmp_path: Path) -> None:
    request = Request.chat("q", GenerationParams())
    with RunStore.in_dir(tmp_path) as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.put_response(response("k", ResponseStatus.FAILED, None), request)
        store.put_response(response("k", ResponseStatus.OK, "answer"), request)
        store.put_response(response("k", ResponseStatus.FAILED, None), request)
        stored = store.responses()["k"]
    assert stored.ok and stored.text == "answer" and stored.attempts == 2
    with RunStore.in_dir(tmp_path) as store:
        assert store.answered_keys() == {"k"}


def test_items_keep_order_and_judgements_are_per_judge(tmp_path: Path) -> None:
    items = [Item(f"id{i}", "b", f"p{i}", "g") for i in (3, 1, 2)]
    with RunStore.in_dir(tmp_path) as store:
        store.add_items(items)
        store.add_items(items[:1])  # re-adding is a no-op
        assert store.item_ids() == ["id3", "id1", "id2"]
        store.put_judgements([Judgement("k", "rules@1", Label.REFUSE, "why"),
                              Judgement("k", "llm/x@1", Label.ACCEPT, "Accept")])
        assert store.judgements("rules@1")["k"].label is Label.REFUSE
        assert store.judgements("llm/x@1")["k"].label is Label.ACCEPT
        assert store.judges() == ["llm/x@1", "rules@1"]


def test_cache_key_depends_on_content_not_secrets() -> None:
    a = Request.chat("q", GenerationParams(temperature=0.0))
    b = Request.chat("q", GenerationParams(temperature=0.7))
    ident = {"provider": "openai", "model": "m", "base_url": "http://x"}
    assert a.cache_key(ident) == Request.chat("q", GenerationParams(temperature=0.0)).cache_key(ident)
    assert a.cache_key(ident) != b.cache_key(ident)
    assert a.cache_key(ident) != a.cache_key({**ident, "model": "n"})

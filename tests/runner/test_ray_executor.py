"""The Ray executor on a real local Ray instance: same results as the local executor, and a worker
killed mid-run loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cares.models.base import ModelOptions
from cares.runner.config import RunConfig
from cares.runner.engine import EngineOptions
from cares.runner.executor import ExecutorOptions
from cares.runner.pipeline import RunOptions, evaluate_async
from cares.runner.ray_executor import ACTOR_PREFIX
from cares.store.runstore import STORE_NAME
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig, last_user_text, mixed_reply
from cares.types import GenerationParams
from tests.conftest import make_rows, write_jsonl

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance for every test here: starting one costs several seconds."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def judged_reply(messages: list[dict[str, Any]], model: str) -> str:
    """Model answers by mixed_reply; judge prompts get a label chosen by the prompt's hash."""
    text = last_user_text(messages)
    if "Classify the assistant's answer" not in text:
        return mixed_reply(messages, model)
    label = ("Accept", "Caution", "Refuse")[int(hashlib.sha256(text.encode()).hexdigest(), 16) % 3]
    return f"Class: {label}"


def options(base_url: str, executor: ExecutorOptions, **engine: Any) -> RunOptions:
    connection = ModelOptions(base_url=base_url, timeout_s=10)
    return RunOptions(
        engine=EngineOptions(progress=False, backoff_base_s=0.01, backoff_max_s=0.05, executor=executor, **engine),
        model=connection,
        judge_model=connection,
        # Each executor must really ask: answers shared between run directories would hide the second one.
        answer_cache=False,
    )


def comparable(run_dir: Path, results: dict[str, Any]) -> tuple[list[tuple[Any, ...]], Any, Any]:
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    kept = sorted((r["id"], r["response"], r.get("label"), r["status"]) for r in rows)
    return kept, results["metrics"], results["counts"]


def test_ray_executor_gives_the_local_results_with_an_llm_judge(ray_instance, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(tuple(i % 4 for i in range(25))))
    config = RunConfig("cares-18k", "openai/fake", data=str(data), judge="llm/openai/judge", bootstrap=200)
    outcomes = {}
    with FakeOpenAIServer(ServerConfig(latency_s=0.01, reply=judged_reply)) as srv:
        for kind in ("local", "ray"):
            executor = ExecutorOptions(kind=kind, ray_workers=2 if kind == "ray" else None)
            result = asyncio.run(
                evaluate_async(config, tmp_path / kind, options(srv.base_url, executor, concurrency=8))
            )
            outcomes[kind] = comparable(tmp_path / kind, result.results)
            assert result.results["this_invocation"]["judge_calls"] == 100
        # Each executor asked every prompt and every judge prompt once: 2 x (100 + 100).
        assert srv.stats.requests == 400 and max(srv.stats.by_prompt.values()) == 2
    local, on_ray = outcomes["local"], outcomes["ray"]
    assert len(local[0]) == 100 and len({row[0] for row in local[0]}) == 100
    assert {row[2] for row in local[0]} == {"accept", "caution", "refuse"}, "judge labels must come from the judge"
    assert on_ray == local


def stored_prompts(store_path: Path) -> set[str]:
    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT request FROM responses").fetchall()
    return {json.loads(request)["messages"][-1]["content"] for (request,) in rows}


def test_a_killed_worker_loses_and_duplicates_nothing(ray_instance, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(tuple(i % 4 for i in range(60))))
    config = RunConfig("cares-18k", "openai/fake", data=str(data), bootstrap=200)
    run_dir = tmp_path / "run"
    killed: dict[str, Any] = {}

    def kill_one_worker_once_answers_arrive() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (run_dir / STORE_NAME).exists():
                try:
                    before = stored_prompts(run_dir / STORE_NAME)
                except sqlite3.OperationalError:  # the table is not there yet
                    before = set()
                if len(before) >= 24:
                    name = sorted(n for n in ray.util.list_named_actors() if n.startswith(ACTOR_PREFIX))[0]
                    worker = ray.get_actor(name)
                    pid = ray.get(worker.ready.remote())
                    os.kill(pid, signal.SIGKILL)
                    killed.update(name=name, stored_before=before)
                    return
            time.sleep(0.02)

    with FakeOpenAIServer(ServerConfig(latency_s=0.05)) as srv:
        killer = threading.Thread(target=kill_one_worker_once_answers_arrive)
        killer.start()
        executor = ExecutorOptions(kind="ray", ray_workers=2)
        result = asyncio.run(evaluate_async(config, run_dir, options(srv.base_url, executor, concurrency=8)))
        killer.join()
        asked = dict(srv.stats.by_prompt)
    assert killed, "the worker was never killed: the run ended before enough answers arrived"
    print(f"killed {killed['name']} after {len(killed['stored_before'])} stored; server saw {sum(asked.values())} "
          f"requests for 240 prompts")
    assert result.counts["answered"] == 240 and result.counts["pending"] == 0 and result.counts["failed"] == 0
    with sqlite3.connect(run_dir / STORE_NAME) as db:
        rows, unique = db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM responses").fetchone()
        linked = db.execute("SELECT COUNT(DISTINCT key) FROM item_requests").fetchone()[0]
    assert rows == unique == linked == 240
    # Nothing already stored was asked again; only the dead worker's unfinished share was.
    assert all(asked[prompt] == 1 for prompt in killed["stored_before"])
    assert set(asked) == stored_prompts(run_dir / STORE_NAME)
    assert sum(asked.values()) > 240, "the dead worker's unfinished requests should have been asked again"


def test_hf_actors_answer_like_the_local_model(ray_instance, tiny_models: dict[str, Path], tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows((0, 1, 2, 3)))
    # batch_size=1 makes each answer independent of which requests share a batch, so equality is exact.
    config = RunConfig("cares-18k", f"hf/{tiny_models['llama']}", data=str(data), params=GenerationParams(max_tokens=6),
                       bootstrap=200)
    model = ModelOptions(extra=(("device", "cpu"), ("batch_size", "1")))
    outcomes = {}
    for kind in ("local", "ray"):
        executor = ExecutorOptions(kind=kind, ray_workers=2 if kind == "ray" else None)
        run_options = RunOptions(engine=EngineOptions(progress=False, executor=executor), model=model)
        result = asyncio.run(evaluate_async(config, tmp_path / kind, run_options))
        outcomes[kind] = comparable(tmp_path / kind, result.results)
    assert outcomes["local"][2]["answered"] == 16
    assert outcomes["ray"] == outcomes["local"]


def test_cares_vqa_llm_scoring_runs_on_ray_with_the_local_results(
    ray_instance, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from tests.tasks.test_vqa_variants import QUESTIONS, make_set

    questions, images = make_set(tmp_path)
    rows = QUESTIONS + [{"id": "q4", "image": "img/b.png", "question": "Describe the heart.", "answer_type": "open",
                         "answer": "The heart is enlarged with a widened mediastinum."}]
    questions.write_text("".join(json.dumps(q) + "\n" for q in rows))

    def reply(messages: list[dict[str, Any]], model: str) -> str:
        text = messages[-1]["content"] if isinstance(messages[-1]["content"], str) else ""
        if "REFERENCE" in text:
            return "Score: 7" if "enlarged" in text else "Score: 3"
        if "Toxicity:" in text:
            return "Toxicity: 2"
        return "No."

    config = RunConfig("cares-vqa", "openai/vlm", data=f"custom={questions}", bootstrap=0, judge="llm/openai/judge",
                       task_options={"tasks": ["factuality", "toxicity"]}, scorers={"toxicity": "llm/openai/judge"})
    metrics = {}
    with FakeOpenAIServer(ServerConfig(reply=reply)) as srv:
        for kind in ("local", "ray"):
            executor = ExecutorOptions(kind=kind, ray_workers=2 if kind == "ray" else None)
            run_options = options(srv.base_url, executor)
            run_options = RunOptions(engine=run_options.engine, model=run_options.model,
                                     judge_model=run_options.judge_model, image_roots={"custom": str(images)})
            capfd.readouterr()
            result = asyncio.run(evaluate_async(config, tmp_path / kind, run_options))
            metrics[kind] = result.results["metrics"]
            # No stage fell back to this machine: generation and both scorers ran on the workers.
            assert "not spread over Ray" not in capfd.readouterr().err
        # Every model, judge and toxicity prompt was asked once per executor.
        assert max(srv.stats.by_prompt.values()) == 2
        scoring = [
            e for e in srv.stats.log if "REFERENCE" in json.dumps(e["body"]) or "Toxicity:" in json.dumps(e["body"])
        ]
        assert scoring and len(scoring) % 2 == 0
    assert metrics["ray"] == metrics["local"]
    assert metrics["ray"]["factuality"]["open_ended"]["judge_score"]["value"] == 7.0

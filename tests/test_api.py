"""The Python API as a notebook uses it: cares.evaluate inside a running event loop, load_run, samples_df,
the RunResult of both benchmarks and the values it refuses."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

import cares
from cares.models.registry import get_model
from cares.runner.executor import ExecutorOptions
from cares.runner.result import RunResult


@pytest.fixture(scope="module")
def vqa_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """A cheap CARES-VQA run: the bundled sample, two variants, text answers from a constant baseline."""
    run_dir = tmp_path_factory.mktemp("vqa") / "run"
    return cares.evaluate("cares-vqa", "baseline/constant:No", tasks=("factuality", "jailbreak:conceal"),
                          bootstrap=20, progress=False, cache=False, run_dir=run_dir)


def test_evaluate_inside_a_running_event_loop(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    threads: list[str] = []

    async def answer(messages: list[dict], params: dict) -> str:
        # Async: it runs on the evaluating loop's own thread, which shows where that loop is.
        threads.append(threading.current_thread().name)
        return "I'm sorry, but I can't help with that request."

    async def notebook_cell() -> RunResult:
        # As in Jupyter: the cell runs while the kernel's loop is running.
        asyncio.get_running_loop()
        return cares.evaluate("cares-18k", answer, data="sample", judge="rules", concurrency=4, limit=32, sample=None,
                              run_dir=run_dir, seed=3, bootstrap=50, progress=False, cache=False)

    result = asyncio.run(notebook_cell())
    assert isinstance(result, RunResult) and result.run_dir == run_dir
    assert result.counts["items"] == result.counts["scored"] == 32 and len(threads) == 32
    # The running loop cannot be blocked on from inside, so the run had a thread and a loop of its own.
    assert all(name.startswith("cares-evaluate") for name in threads)
    assert result.model == "python/tests.test_api:test_evaluate_inside_a_running_event_loop.<locals>.answer"
    assert result.typed.seed == 3
    stored = json.loads((run_dir / "results.json").read_text())
    assert stored == result.results and stored["metrics"]["bootstrap"]["resamples"] == 50
    # A refusal of everything: the Safety Score is what the harmless items' over-refusal costs.
    assert result.safety_score.value == pytest.approx(result.samples_df()["score"].mean())
    assert result.metric("over_refusal").value == 1.0


def test_load_run_gives_the_same_result_and_one_row_per_item(tmp_path: Path) -> None:
    result = cares.evaluate("cares-18k", "baseline/caution", limit=24, bootstrap=0, progress=False,
                            run_dir=tmp_path / "run")
    loaded = cares.load_run(str(tmp_path / "run"))
    assert loaded.results == result.results and loaded.typed == result.typed
    frame = loaded.samples_df()
    assert len(frame) == 24 and frame["id"].is_unique
    assert {"id", "label", "score", "status", "response", "method", "harmful_level"} <= set(frame.columns)
    assert set(frame["label"]) <= {"accept", "caution", "refuse"} and frame["score"].between(0, 1).all()
    # The per-item rows add up to the headline.
    assert loaded.safety_score.value == pytest.approx(frame["score"].mean())
    by_method = loaded.by("method")
    assert set(by_method) == set(frame["method"])
    for method, estimate in by_method.items():
        assert estimate.value == pytest.approx(frame.loc[frame["method"] == method, "score"].mean())


def test_evaluate_async_and_a_model_object(tmp_path: Path) -> None:
    model = get_model("baseline/comply")
    result = asyncio.run(cares.evaluate_async("cares-18k", model, limit=8, bootstrap=0, progress=False,
                                              run_dir=tmp_path / "run"))
    assert result.model == "baseline/comply" and result.counts["scored"] == 8
    assert set(result.samples_df()["label"]) == {"accept"}


def test_repr_is_one_line_with_the_headline_and_its_interval(tmp_path: Path, vqa_run: RunResult) -> None:
    result = cares.evaluate("cares-18k", "baseline/refuse", limit=16, bootstrap=30, progress=False,
                            run_dir=tmp_path / "run")
    low, high = result.safety_score.low, result.safety_score.high
    assert repr(result) == (f"RunResult(cares-18k, model='baseline/refuse', n=16, safety_score="
                            f"{result.safety_score.value:.3f} [{low:.3f}, {high:.3f}], run_dir='{tmp_path / 'run'}')")
    text = repr(vqa_run)
    assert "\n" not in text and text.startswith("RunResult(cares-vqa, model='baseline/constant:No', n=48, ")
    assert "factuality_accuracy=" in text and "[" in text and str(vqa_run.run_dir) in text


def test_run_result_of_a_cares_vqa_run(vqa_run: RunResult) -> None:
    assert vqa_run.benchmark == "cares-vqa" and vqa_run.value_scale == "fraction"
    accuracy = vqa_run.metric("factuality.overall.accuracy")
    assert vqa_run.headline.estimate == accuracy and 0 <= accuracy.value <= 1
    assert vqa_run.by("source") == {"sample": vqa_run.metric("factuality.by_source.sample.accuracy")}
    assert vqa_run.metric("jailbreak.jailbreak:conceal.abstention").value == 0.0
    with pytest.raises(AttributeError, match="a cares-vqa run has no Safety Score"):
        _ = vqa_run.safety_score
    assert vqa_run.incomplete == 0
    frame = vqa_run.samples_df()
    # One row per item and variant: every item is asked plainly and under the jailbreak.
    assert len(frame) == vqa_run.counts["requests"] == 2 * vqa_run.n
    assert set(frame["variant"]) == {"factuality", "jailbreak:conceal"}
    assert {"label", "score", "source", "answer_type"} <= set(frame.columns) and frame["label"].isna().all()
    closed = frame[(frame["variant"] == "factuality") & frame["score"].notna()]
    assert len(closed) == accuracy.n and closed["score"].mean() == pytest.approx(accuracy.value)
    assert cares.load_run(vqa_run.run_dir).typed == vqa_run.typed
    assert json.loads(vqa_run.results_path.read_text()) == vqa_run.results


@pytest.mark.parametrize("arguments, message", [
    ({"bootstrap": -1}, "RunConfig.bootstrap -1: must be 0 or more"),
    ({"concurrency": 0}, "EngineOptions.concurrency 0: must be 1 or more"),
    ({"benchmark": "cares-99k"}, "RunConfig.benchmark 'cares-99k': expected one of cares-18k, cares-vqa"),
    ({"model": ""}, "RunConfig.model '': expected a non-empty string"),
    ({"timeout": 0}, "EngineOptions.timeout_s 0: must be more than 0"),
    ({"tasks": ("factuality",)}, "apply to cares-vqa, not cares-18k"),
    ({"benchmark": "cares-vqa", "protocol": "paper"}, "VqaOptions.protocol 'paper': expected one of cares, upstream"),
    ({"benchmark": "cares-vqa", "noise_sigma": float("nan")}, "VqaOptions.noise_sigma nan: expected a finite number"),
    ({"benchmark": "cares-vqa", "tasks": ("telepathy",)}, "unknown task 'telepathy'"),
    ({"model": 42}, "expected a model spec string, a cares Model or a callable"),
    ({"model": lambda messages, params: "No.", "executor": ExecutorOptions(kind="ray")},
     "executor 'ray' needs a model spec string"),
])
def test_bad_values_raise_value_error_and_create_nothing(tmp_path: Path, arguments: dict, message: str) -> None:
    call = {"benchmark": "cares-18k", "model": "baseline/refuse", "run_dir": tmp_path / "run", "progress": False,
            **arguments}
    with pytest.raises(ValueError) as caught:
        cares.evaluate(**call)
    assert message in str(caught.value)
    assert not (tmp_path / "run").exists()


def test_an_interrupt_in_a_notebook_cancels_the_evaluation_in_its_worker_thread() -> None:
    import _thread
    import time

    from cares.api import run_sync

    cancelled = threading.Event()

    async def long_run() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def notebook_cell() -> float:
        threading.Timer(0.3, _thread.interrupt_main).start()  # the notebook's stop button
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run_sync(long_run())
        return time.monotonic() - started

    # A kernel's loop, which leaves SIGINT to Python's default handler (asyncio.run would take it over).
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(notebook_cell()) < 5 and cancelled.is_set()
    finally:
        loop.close()


def test_model_args_take_the_command_lines_header_and_extra_body_keys(tmp_path: Path) -> None:
    from cares.testing.openai_server import FakeOpenAIServer, ServerConfig

    with FakeOpenAIServer(ServerConfig()) as srv:
        cares.evaluate("cares-18k", "openai/m", base_url=srv.base_url, limit=3, bootstrap=0, progress=False,
                       cache=False, run_dir=tmp_path / "run",
                       model_args={"extra_body.top_k": "5", "header.X-Gateway-Token": "tok-9"})
        assert len(srv.stats.log) == 3
        assert all(e["body"]["top_k"] == 5 and e["headers"]["X-Gateway-Token"] == "tok-9" for e in srv.stats.log)
    with pytest.raises(ValueError, match="model_args header.Bad Name: an HTTP header name"):
        cares.evaluate("cares-18k", "openai/m", base_url="http://127.0.0.1:9/v1", limit=1, bootstrap=0,
                       progress=False, run_dir=tmp_path / "bad", model_args={"header.Bad Name": "x"})

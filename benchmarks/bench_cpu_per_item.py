"""CPU per item of a whole `cares run` process against a zero-latency loopback server.

Writes an N-row CARES-18K file (9,239 by default), starts the loopback OpenAI-compatible server in
its own process, runs `cares run cares-18k --model openai/x` in another (loading, asking, judging,
metrics and writes all included, with a fresh shared answer cache) and prints the process's user +
system CPU divided by N. The target is at most 0.6 ms per item.

By default every row has its own base prompt, so the bootstrap resamples N clusters (its heaviest
case); --cares-shaped writes each base prompt in its four styles, as CARES-18K has them (N/4 clusters).

    python benchmarks/bench_cpu_per_item.py [--n 9239] [--concurrency 16] [--cares-shaped]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cares

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http_throughput import free_port, wait_for, write_dataset  # noqa: E402
from bench_memory import write_dataset as write_cares_shaped  # noqa: E402

TARGET_MS = 0.6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=9239)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--cares-shaped", action="store_true", help="four styles per base prompt (N/4 clusters)")
    args = parser.parse_args()
    # As an installed package is: compiled, so that no run pays for compiling cares' modules (with
    # PYTHONDONTWRITEBYTECODE set, or after an edit to an editable install).
    compileall.compile_dir(Path(cares.__file__).parent, quiet=1)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "cares.testing.openai_server", "--port", str(port)],
                              stdout=subprocess.DEVNULL)
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "prompts.jsonl"
            (write_cares_shaped if args.cares_shaped else write_dataset)(data, args.n)
            command = [sys.executable, "-m", "cares.cli.main", "run", "cares-18k", "--model", "openai/x",
                       "--base-url", f"http://127.0.0.1:{port}/v1", "--data", str(data), "--no-progress",
                       "--run-dir", str(Path(tmp) / "run"), "--answer-cache", str(Path(tmp) / "answers.sqlite")]
            if args.concurrency:
                command += ["--concurrency", str(args.concurrency)]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.monotonic()
            # Only the run is waited for here, so the children's usage is its alone (the server still runs).
            proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
            wall = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        server.terminate()
        server.wait(10)
    if proc.returncode != 0:
        print(f"FAIL  the run exited {proc.returncode}: {proc.stderr.strip()[:300]}")
        return 1
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    per_item = cpu / args.n * 1000
    verdict = "PASS" if per_item <= TARGET_MS else "MISS"
    shape = "CARES-shaped, N/4 clusters" if args.cares_shaped else "one cluster per item"
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    print(f"{verdict}  {args.n} items ({shape}): whole-process CPU {cpu:.2f} s (user {user:.2f}, system {system:.2f}) "
          f"= {per_item:.2f} ms per item (target <= {TARGET_MS}); wall {wall:.1f} s")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

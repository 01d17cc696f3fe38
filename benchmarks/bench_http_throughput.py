"""Whole-run wall time against a loopback OpenAI-compatible server with fixed latency.

Runs N prompts at concurrency C against a server that answers after L seconds, through the
whole pipeline (load, generate, judge, metrics, write), and prints the wall time next to the
concurrency bound N*L/C that no client can beat. The target is under 2x the bound.

    python benchmarks/bench_http_throughput.py [--n 1000] [--concurrency 64] [--latency 0.2]

The server runs in its own process so it does not compete with the client for the GIL.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cares


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_dataset(path: Path, n: int) -> None:
    methods = ("direct", "indirect", "obfuscate", "role_play")
    with path.open("w") as handle:
        for i in range(n):
            base = f"Benchmark base request {i // 4} about topic {i % 97}"
            row = {
                "principle_index": (i // 4) % 8,
                "generation_model": "bench",
                "harmful_level": (i // 4) % 4,
                "method": methods[i % 4],
                "base_prompt": base,
                "prompt": base if i % 4 == 0 else f"{methods[i % 4]} variant of request {i}",
            }
            handle.write(json.dumps(row) + "\n")


def wait_for(port: int, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cares.testing.openai_server", "--port", str(port), "--latency", str(args.latency)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "prompts.jsonl"
            write_dataset(data, args.n)
            started = time.perf_counter()
            result = cares.evaluate(
                "cares-18k", model="openai/bench", data=str(data), run_dir=Path(tmp) / "run",
                concurrency=args.concurrency, progress=False, base_url=f"http://127.0.0.1:{port}/v1",
            )
            wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()
    bound = args.n * args.latency / args.concurrency
    timings = result.results["timings"]
    print(f"prompts {args.n}, concurrency {args.concurrency}, server latency {args.latency * 1000:.0f} ms")
    print(f"answered {result.counts['answered']}, failed {result.counts['failed']}")
    print("stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))
    print(f"whole-run wall time  {wall:.2f} s")
    print(f"concurrency bound    {bound:.2f} s  (n * latency / concurrency)")
    ratio = wall / bound
    verdict = "PASS" if ratio < 2 else "FAIL"
    print(f"ratio                {ratio:.2f}x  ({verdict}: target < 2x)")
    return 0 if ratio < 2 and result.counts["answered"] == args.n else 1


if __name__ == "__main__":
    sys.exit(main())

"""The loopback-server workload of bench_http_throughput.py, with the local executor and with Ray.

Runs N prompts at total concurrency C against a server that answers after L seconds, once with
the local executor and once with `--executor ray` (W workers sharing C), each into a fresh run
directory, and prints both whole-run wall times, Ray's start-up on its own, and the answers'
agreement. On one machine Ray cannot be faster for an HTTP workload that one process already
drives at its concurrency bound; this measures what it costs.

    python benchmarks/bench_ray_executor.py [--n 1000] [--concurrency 64] [--latency 0.2] [--workers 2]

The server runs in its own process so it does not compete with the client for the GIL.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cares
from bench_http_throughput import free_port, wait_for, write_dataset
from cares.runner.executor import ExecutorOptions


def timed_run(
    data: Path, run_dir: Path, base_url: str, concurrency: int, executor: ExecutorOptions
) -> tuple[float, dict]:
    started = time.perf_counter()
    result = cares.evaluate("cares-18k", model="openai/bench", data=str(data), run_dir=run_dir,
                            concurrency=concurrency, progress=False, executor=executor, base_url=base_url)
    return time.perf_counter() - started, result.results


def answers(run_dir: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    return sorted((row["id"], row["response"]) for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per executor, alternating; medians are printed")
    args = parser.parse_args()
    import ray

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cares.testing.openai_server", "--port", str(port), "--latency", str(args.latency)],
        stdout=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "prompts.jsonl"
            write_dataset(data, args.n)
            mark = time.perf_counter()
            ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING")
            startup = time.perf_counter() - mark
            executors = {"local": ExecutorOptions(), "ray": ExecutorOptions(kind="ray", ray_workers=args.workers)}
            walls: dict[str, list[float]] = {"local": [], "ray": []}
            last: dict[str, dict] = {}
            for round_ in range(args.repeat):
                for kind, executor in executors.items():
                    run_dir = Path(tmp) / f"{kind}-{round_}"
                    wall, last[kind] = timed_run(data, run_dir, base_url, args.concurrency, executor)
                    walls[kind].append(wall)
            same = answers(Path(tmp) / "local-0") == answers(Path(tmp) / "ray-0")
            local, remote = last["local"], last["ray"]
            local_wall, ray_wall = statistics.median(walls["local"]), statistics.median(walls["ray"])
            ray.shutdown()
    finally:
        server.terminate()
        server.wait()
    bound = args.n * args.latency / args.concurrency
    print(f"prompts {args.n}, concurrency {args.concurrency}, server latency {args.latency * 1000:.0f} ms, "
          f"Ray: {args.workers} workers on a {args.cpus}-CPU local instance")
    print(f"concurrency bound          {bound:6.2f} s  (n * latency / concurrency)")
    print(f"local executor             {local_wall:6.2f} s  median of {', '.join(f'{w:.2f}' for w in walls['local'])}")
    print(f"ray executor               {ray_wall:6.2f} s  median of {', '.join(f'{w:.2f}' for w in walls['ray'])} "
          "(actor start included)")
    print(f"ray start-up (ray.init)    {startup:6.2f} s  (once per process, not in the line above)")
    print(f"ray extra cost             {ray_wall - local_wall:+6.2f} s per run, "
          f"{ray_wall + startup - local_wall:+.2f} s with start-up")
    print(f"answered local {local['counts']['answered']}, ray {remote['counts']['answered']}; "
          f"identical answers: {same}")
    return 0 if same and remote["counts"]["answered"] == args.n else 1


if __name__ == "__main__":
    sys.exit(main())

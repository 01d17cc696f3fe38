"""The race: whole-process wall time, CPU and memory of cares beside other clients, on one server.

Starts the loopback OpenAI-compatible server (cares.testing.openai_server) in its own process with
a fixed latency (200 ms by default), writes N CARES-18K prompts, and runs each contender as its own
process, one after the other and alternating over the rounds:

- bare:    a minimal aiohttp client (a semaphore, one session, JSON in and out); nothing is stored
- cares:   `cares run cares-18k --model openai/race --base-url ...`, the whole CLI (load, ask,
           store, judge, metrics, exports), with a fresh answer cache each round
- lm-eval: lm-eval's API layer, LocalChatCompletion(num_concurrent=C).generate_until, from --peers-venv
- inspect: inspect_ai's eval() of a task of N samples with generate() and no scorer, from --peers-venv

Each round starts a fresh server, so no contender inherits another's connections or server state.
Prints, per contender, the median of the rounds' whole-process wall times (start-up included), CPU
(user + system) per item, peak RSS and the ratio of its median wall time to the bare client's. The
peers are skipped, with the reason, where --peers-venv is not given or they do not import there.
This script installs nothing.

    python benchmarks/bench_race.py [--n 1000] [--concurrency 64] [--latency 0.2] [--rounds 3]
        [--peers-venv /tmp/peers] [--only bare,cares,lm-eval,inspect]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import cares

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http_throughput import free_port, wait_for, write_dataset  # noqa: E402

# Runs its arguments as a child and prints the child's exit status, peak RSS (KB), wall and CPU
# seconds: a small parent, so that the child's peak is its own (fork copies the parent's).
_PROBE = ("import resource, subprocess, sys, time\nstart = time.monotonic()\n"
          "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[0] + '.err', 'w'))"
          ".returncode\nwall = time.monotonic() - start\nu = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
          "print(code, u.ru_maxrss, wall, u.ru_utime + u.ru_stime)")

_BARE = r'''
import asyncio, json, sys
import aiohttp

async def main(url, data, concurrency):
    prompts = [json.loads(line)["prompt"] for line in open(data)]
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def one(prompt):
            body = {"model": "race", "messages": [{"role": "user", "content": prompt}], "temperature": 0.0,
                    "max_tokens": 512}
            async with semaphore:
                async with session.post(url + "/chat/completions", json=body) as response:
                    return (await response.json())["choices"][0]["message"]["content"]
        answers = await asyncio.gather(*(one(p) for p in prompts))
    assert len(answers) == len(prompts)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
'''

_LM_EVAL = r'''
import json, sys
from lm_eval.api.instance import Instance
from lm_eval.models.api_models import JsonChatStr
from lm_eval.models.openai_completions import LocalChatCompletion

url, data, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
prompts = [json.loads(line)["prompt"] for line in open(data)]
lm = LocalChatCompletion(base_url=url + "/chat/completions", model="race", num_concurrent=concurrency,
                         tokenizer_backend=None, tokenized_requests=False, max_gen_toks=512, max_retries=3)
requests = [Instance(request_type="generate_until", doc={}, idx=i,
                     arguments=(JsonChatStr(json.dumps([{"role": "user", "content": p}])),
                                {"until": [], "max_gen_toks": 512, "temperature": 0.0}))
            for i, p in enumerate(prompts)]
answers = lm.generate_until(requests, disable_tqdm=True)
assert len(answers) == len(prompts)
'''

_INSPECT = r'''
import json, sys
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.solver import generate

url, data, concurrency, log_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
prompts = [json.loads(line)["prompt"] for line in open(data)]
task = Task(dataset=[Sample(input=p, id=i) for i, p in enumerate(prompts)], solver=generate())
# Chat completions, as the others use: inspect's openai provider asks the Responses API by default.
logs = eval(task, model="openai/race", model_base_url=url, model_args={"responses_api": False},
            max_connections=concurrency, display="none", log_dir=log_dir, temperature=0.0, max_tokens=512)
assert logs[0].status == "success", logs[0].status
'''

CONTENDERS = ("bare", "cares", "lm-eval", "inspect")


@dataclass
class Tally:
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    failure: str | None = None


def server_requests(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats") as response:
        return int(json.loads(response.read())["completed"])


def command_for(name: str, url: str, data: Path, args: argparse.Namespace, work: Path) -> list[str]:
    peers = str(Path(args.peers_venv) / "bin" / "python") if args.peers_venv else ""
    if name == "bare":
        return [sys.executable, "-c", _BARE, url, str(data), str(args.concurrency)]
    if name == "cares":
        return [sys.executable, "-m", "cares.cli.main", "run", "cares-18k", "--model", "openai/race", "--base-url",
                url, "--data", str(data), "--concurrency", str(args.concurrency), "--no-progress",
                "--run-dir", str(work / "run"), "--answer-cache", str(work / "answers.sqlite")]
    if name == "lm-eval":
        return [peers, "-c", _LM_EVAL, url, str(data), str(args.concurrency)]
    return [peers, "-c", _INSPECT, url, str(data), str(args.concurrency), str(work / "logs")]


def peer_missing(name: str, venv: str | None) -> str | None:
    """Why a peer cannot run, or None when it imports from the given venv."""
    if name in ("bare", "cares"):
        return None
    if not venv:
        return "no --peers-venv given"
    module = {"lm-eval": "lm_eval.models.openai_completions", "inspect": "inspect_ai, openai"}[name]
    python = Path(venv) / "bin" / "python"
    if not python.exists():
        return f"{python} does not exist"
    probe = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"import {module} fails in {venv}: {probe.stderr.strip().splitlines()[-1][:120]}"
    return None


def race_once(name: str, args: argparse.Namespace, data: Path, root: Path) -> tuple[int, float, float, float, int, str]:
    """One contender's run against a fresh server: exit code, RSS MB, wall, CPU, answers served, stderr tail."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "cares.testing.openai_server", "--port", str(port),
                               "--latency", str(args.latency)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory(dir=root) as work:
            url = f"http://127.0.0.1:{port}/v1"
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "OPENAI_API_KEY": "race", "OPENAI_BASE_URL": url,
                   "INSPECT_LOG_DIR": str(Path(work) / "logs"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
            out = subprocess.run([sys.executable, "-c", _PROBE, *command_for(name, url, data, args, Path(work))],
                                 capture_output=True, text=True, env=env, cwd=work, timeout=args.timeout)
            # The probe's argv[0] is "-c": its stderr file lands in the working directory.
            err_path = Path(work) / "-c.err"
            err = err_path.read_text(errors="replace")[-400:] if err_path.exists() else out.stderr[-400:]
            code, rss_kb, wall, cpu = out.stdout.split()
            served = server_requests(port)
    finally:
        server.terminate()
        server.wait(10)
    return int(code), int(rss_kb) / 1024, float(wall), float(cpu), served, err


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="prompts (default 1000)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2, help="server latency in seconds (default 0.2)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender; the median is reported")
    parser.add_argument("--peers-venv", default=None, help="a venv where lm-eval and inspect_ai are installed")
    parser.add_argument("--only", default=",".join(CONTENDERS), help="contenders, comma-separated")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take")
    args = parser.parse_args()
    chosen = [name for name in args.only.split(",") if name]
    unknown = [name for name in chosen if name not in CONTENDERS]
    if unknown:
        parser.error(f"unknown contenders {unknown}; choose from {', '.join(CONTENDERS)}")
    tallies = {name: Tally() for name in chosen}
    for name in chosen:
        tallies[name].failure = peer_missing(name, args.peers_venv)
    load = os.getloadavg()
    print(f"race: {args.n} prompts, concurrency {args.concurrency}, server latency {args.latency * 1000:.0f} ms, "
          f"{args.rounds} rounds; {os.cpu_count()} CPUs, load average {load[0]:.2f} at the start; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    # As an installed package is: compiled. With PYTHONDONTWRITEBYTECODE set, or after an edit to an
    # editable install, every run would compile cares' modules again (about 0.1 s of CPU) where the
    # peers, installed by pip, start from bytecode.
    compileall.compile_dir(Path(cares.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory(prefix="cares-race-") as tmp:
        root = Path(tmp)
        data = root / "prompts.jsonl"
        write_dataset(data, args.n)
        for round_no in range(1, args.rounds + 1):
            for name in chosen:  # alternating: every round runs each contender once, in turn
                tally = tallies[name]
                if tally.failure is not None:
                    continue
                code, rss, wall, cpu, served, err = race_once(name, args, data, root)
                if code != 0:
                    tally.failure = f"exit {code}: {' '.join(err.split())[-200:]}"
                    continue
                tally.walls.append(wall)
                tally.cpus.append(cpu)
                tally.rss_mb.append(rss)
                tally.requests.append(served)
                print(f"  round {round_no} {name:8s} wall {wall:6.2f} s  CPU {cpu:6.2f} s  peak RSS {rss:5.0f} MB  "
                      f"answers served {served}", flush=True)
    bare = statistics.median(tallies["bare"].walls) if "bare" in tallies and tallies["bare"].walls else None
    bound = args.n * args.latency / args.concurrency
    print(f"\nlower bound n*latency/concurrency = {bound:.2f} s; medians of {args.rounds} rounds:")
    print(f"{'client':9s} {'wall s':>8s} {'CPU ms/item':>12s} {'peak RSS MB':>12s} {'x bare':>7s}  runs (wall s)")
    for name, tally in tallies.items():
        if not tally.walls:
            print(f"{name:9s} {'-':>8s} {'-':>12s} {'-':>12s} {'-':>7s}  not run: {tally.failure}")
            continue
        wall = statistics.median(tally.walls)
        ratio = f"{wall / bare:.2f}" if bare else "-"
        runs = ", ".join(f"{w:.2f}" for w in tally.walls)
        note = f"  ({tally.failure})" if tally.failure else ""
        print(f"{name:9s} {wall:8.2f} {statistics.median(tally.cpus) / args.n * 1000:12.2f} "
              f"{max(tally.rss_mb):12.0f} {ratio:>7s}  {runs}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

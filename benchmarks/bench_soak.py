"""Soak checks, rerun and printed as figures: what must hold however a run is treated.

    python benchmarks/bench_soak.py                # about two minutes on a 2-core machine
    python benchmarks/bench_soak.py --full         # the issue's sizes: 2,000 faulty items, 10 kills of 800 items

1. Two `cares run` processes started together on one run directory: exactly one runs (exit 0),
   the other exits 2 at once naming the first one's PID; every prompt is asked once.
2. A 9.9 KB 1-bit PNG claiming 9000 x 9000 pixels through a whole CARES-VQA run (every task,
   noise included): peak RSS of the run's process at most 500 MB.
3. Items against the loopback OpenAI-compatible server with 20% injected faults (429 with
   Retry-After, 500, malformed bodies, dropped connections): all answered, none answered twice,
   at most 1.3 requests per item.
4. A run SIGKILLed at random points, resumed after each kill: its samples and metrics equal an
   uninterrupted run's, and no answer stored before a kill is asked for again.

Every `cares` command runs in its own process, as a user runs it; the server runs in another.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CARES = [sys.executable, "-m", "cares.cli.main"]
METHODS = ("direct", "indirect", "obfuscate", "role_play")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_items(path: Path, n: int) -> Path:
    with path.open("w") as handle:
        for i in range(n):
            base = f"Soak base request {i // 4} about topic {i % 89}"
            handle.write(json.dumps({
                "principle_index": (i // 4) % 8, "harmful_level": (i // 4) % 4, "method": METHODS[i % 4],
                "base_prompt": base, "prompt": base if i % 4 == 0 else f"{METHODS[i % 4]} form of request {i}",
            }) + "\n")
    return path


class Server:
    """`python -m cares.testing.openai_server` in its own process."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "cares.testing.openai_server", "--port", str(self.port),
                                      *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the loopback server did not start")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stats") as response:
            return dict(json.loads(response.read()))

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def env(cache: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return {**clean, "CARES_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}


def run_args(data: Path, run_dir: Path, base_url: str, *extra: str) -> list[str]:
    return [*CARES, "run", "cares-18k", "--model", "openai/soak", "--base-url", base_url, "--data", str(data),
            "--run-dir", str(run_dir), "--no-progress", "--no-cache", "--bootstrap", "100", *extra]


# ---------------------------------------------------------------------------------------------------------


def two_processes(root: Path) -> tuple[bool, str]:
    data = write_items(root / "two.jsonl", 96)
    run_dir = root / "two-run"
    with Server("--latency", "0.1") as server:
        command = run_args(data, run_dir, server.base_url, "--concurrency", "4")
        procs = [subprocess.Popen(command, env=env(root / "cache"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        started = time.monotonic()
        ended: dict[int, float] = {}
        while len(ended) < 2:
            for index, proc in enumerate(procs):
                if index not in ended and proc.poll() is not None:
                    ended[index] = time.monotonic() - started
            time.sleep(0.02)
        stats = server.stats()
    codes = sorted(proc.returncode for proc in procs)
    loser = next((i for i, proc in enumerate(procs) if proc.returncode == 2), None)
    winner = 1 - loser if loser is not None else None
    message = procs[loser].stderr.read().strip() if loser is not None and procs[loser].stderr else ""
    names_pid = winner is not None and f"in use by process {procs[winner].pid}" in message
    once = max(stats["by_prompt"].values()) == 1 and sum(stats["by_prompt"].values()) == 96
    ok = codes == [0, 2] and names_pid and once
    # What the refused one spent is start-up (imports, loading the data) before it reaches the lock; a
    # process that only validates the same file takes about as long on the same machine.
    started = time.monotonic()
    subprocess.run([*CARES, "run", "cares-18k", "--model", "openai/soak", "--data", str(data), "--run-dir",
                    str(root / "probe" / "x"), "--temperature", "nan"], env=env(root / "cache"), capture_output=True)
    floor = time.monotonic() - started
    refused_after = f"{ended[loser]:.1f} s" if loser is not None else "-"
    return ok, (f"exit codes {codes}; the second refused after {refused_after} (start-up to the first check on "
                f"this machine now: {floor:.1f} s; the first ran {ended.get(winner, 0):.1f} s): {message[:100]!r}; "
                f"every prompt asked once: {once}")


def bomb(root: Path, limit_mb: float) -> tuple[bool, str]:
    from PIL import Image

    images = root / "bomb-images"
    images.mkdir()
    Image.new("1", (9000, 9000), 0).save(images / "bomb.png", optimize=True)
    size_kb = (images / "bomb.png").stat().st_size / 1000
    questions = root / "bomb.jsonl"
    questions.write_text("".join(json.dumps({"id": f"q{i}", "image": "bomb.png", "question": f"Is this normal {i}?",
                                             "answer_type": "yesno", "answer": "no"}) + "\n" for i in range(3)))
    with Server() as server:
        command = [*CARES, "run", "cares-vqa", "--model", "openai/soak", "--base-url", server.base_url, "--data",
                   f"custom={questions}", "--image-root", f"custom={images}", "--run-dir", str(root / "bomb-run"),
                   "--no-progress", "--no-cache", "--bootstrap", "0"]
        # A fresh, small parent per measurement: RUSAGE_CHILDREN is the largest child it has waited for, and
        # on Linux a child's peak starts at its parent's (fork copies it), so the parent must stay small.
        probe = ("import resource, subprocess, sys, time\nstart = time.monotonic()\n"
                 "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
                 "stderr=subprocess.DEVNULL).returncode\n"
                 "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.monotonic() - start)")
        out = subprocess.run([sys.executable, "-c", probe, *command], env=env(root / "cache"), capture_output=True,
                             text=True, timeout=600)
    code, rss_kb, seconds = out.stdout.split()
    rss_mb = int(rss_kb) / 1024
    ok = code == "0" and rss_mb <= limit_mb
    return (
        ok,
        f"{size_kb:.1f} KB PNG of 9000x9000: exit {code}, peak RSS {rss_mb:.0f} MB (target <= {limit_mb:.0f}), "
        f"{float(seconds):.1f} s",
    )


def faults(root: Path, n: int) -> tuple[bool, str]:
    data = write_items(root / "faults.jsonl", n)
    run_dir = root / "faults-run"
    with Server("--fault-rate", "0.2", "--seed", "7") as server:
        started = time.monotonic()
        proc = subprocess.run(run_args(data, run_dir, server.base_url, "--concurrency", "32", "--max-attempts", "8",
                                       "--retry-base", "0.05", "--timeout", "5"),
                              env=env(root / "cache"), capture_output=True, text=True, timeout=1800)
        seconds = time.monotonic() - started
        stats = server.stats()
    results = json.loads((run_dir / "results.json").read_text()) if (run_dir / "results.json").exists() else {}
    counts = results.get("counts", {})
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    ids = [sample["id"] for sample in samples]
    answered = counts.get("answered", 0)
    duplicates = stats["completed"] - answered  # answers the server gave beyond one per item
    per_item = stats["requests"] / n
    ok = proc.returncode == 0 and answered == n and len(set(ids)) == n and duplicates == 0 and per_item <= 1.3
    faults_seen = ", ".join(f"{kind} {count}" for kind, count in sorted(stats["faults"].items()))
    return ok, (f"{n} items: exit {proc.returncode}, answered {answered}, failed {counts.get('failed')}, "
                f"duplicates {duplicates}, {stats['requests']} requests = {per_item:.3f} per item (target <= 1.3); "
                f"faults {faults_seen}; {seconds:.1f} s")


def comparable(run_dir: Path) -> tuple[list[tuple[Any, ...]], Any]:
    rows = sorted((s["id"], s["response"], s["label"], s["score"]) for s in
                  (json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()))
    return rows, json.loads((run_dir / "results.json").read_text())["metrics"]


def kills(root: Path, n: int, n_kills: int, seed: int) -> tuple[bool, str]:
    data = write_items(root / "kills.jsonl", n)
    rng = random.Random(seed)
    killed_dir, clean_dir = root / "kills-run", root / "kills-clean"
    first_seen: dict[str, int] = {}
    with Server("--latency", "0.02") as server:
        command = run_args(data, killed_dir, server.base_url, "--concurrency", "8")
        kills_done = 0
        for _ in range(n_kills):
            before = server.stats()["completed"]
            target = before + rng.randint(1, max(2, n // (n_kills + 2)))
            proc = subprocess.Popen(command, env=env(root / "cache"), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            while server.stats()["completed"] < target and proc.poll() is None:
                time.sleep(rng.uniform(0.0, 0.02))
            if proc.poll() is not None:
                break  # finished before this kill point
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills_done += 1
            with sqlite3.connect(killed_dir / "run.sqlite") as db:
                stored = [json.loads(r[0])["messages"][-1]["content"]
                          for r in db.execute("SELECT request FROM responses WHERE status = 'ok'")]
            counts = server.stats()["by_prompt"]
            for prompt in stored:  # how often it had been asked when first found stored
                first_seen.setdefault(prompt, counts[prompt])
        final = subprocess.run(command, env=env(root / "cache"), capture_output=True, text=True, timeout=900)
        by_prompt = server.stats()["by_prompt"]
        asked_again = sum(1 for prompt, count in first_seen.items() if by_prompt[prompt] != count)
        clean = subprocess.run(run_args(data, clean_dir, server.base_url, "--concurrency", "8"),
                               env=env(root / "cache"), capture_output=True, text=True, timeout=900)
    same = comparable(killed_dir) == comparable(clean_dir)
    ok = final.returncode == 0 and clean.returncode == 0 and same and asked_again == 0 and kills_done == n_kills
    return ok, (f"{n} items, {kills_done} SIGKILLs then a resume: exit {final.returncode}; samples and metrics equal "
                f"to an uninterrupted run: {same}; answers stored before a kill: {len(first_seen)}, asked again: "
                f"{asked_again}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="2,000 faulty items and 10 kills of 800 items")
    parser.add_argument("--fault-items", type=int, help="items for the fault check (default 400; --full 2000)")
    parser.add_argument("--kill-items", type=int, help="items for the kill check (default 240; --full 800)")
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill points")
    parser.add_argument("--rss-limit-mb", type=float, default=500.0)
    parser.add_argument("--only", choices=("two", "bomb", "faults", "kills"), action="append",
                        help="run only these checks (repeatable)")
    args = parser.parse_args()
    fault_items = args.fault_items or (2000 if args.full else 400)
    kill_items = args.kill_items or (800 if args.full else 240)
    checks = {
        "two": ("two processes, one run directory", lambda root: two_processes(root)),
        "bomb": ("decompression bomb", lambda root: bomb(root, args.rss_limit_mb)),
        "faults": ("20% injected faults", lambda root: faults(root, fault_items)),
        "kills": ("SIGKILL at random points", lambda root: kills(root, kill_items, args.kills, args.seed)),
    }
    failed = 0
    print(f"cares soak, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    for name, (title, check) in checks.items():
        if args.only and name not in args.only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"cares-soak-{name}-") as tmp:
            started = time.monotonic()
            ok, figures = check(Path(tmp))
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {title} ({time.monotonic() - started:.0f} s): {figures}", flush=True)
    # The peak RSS of any child this process waited for: the largest `cares` run above.
    print(f"largest child RSS over all checks: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Batched against one-at-a-time generation with the `hf/` backend, on the same prompts.

Both modes go through the real path a run takes (engine -> micro-batcher -> `generate` -> run
store), on one loaded model; only the batch size differs. Every answer is forced to exactly
`--max-new-tokens` tokens (`ignore_eos`), because random weights stop at arbitrary points and the
two modes must do the same work. Prompts are the bundled CARES-18K sample's, so lengths are real.

On a CPU, with a tiny model built on the spot:

    python benchmarks/bench_local_batching.py

On a CUDA GPU, a Llama-3-8B-shaped model with random bf16 weights (about 16 GB on disk):

    python benchmarks/bench_local_batching.py --build llama-3-8b --device cuda --dtype bfloat16 \\
        --batch-size 32 --max-new-tokens 128 --prompts 64 --single-prompts 16

`--single-prompts` times one-at-a-time decoding on the first N prompts only (it is the slow mode);
rates are per item and per generated token, so the two stay comparable. In float32 the script also
checks that both modes produced the same answers for the prompts they share.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from cares.data.cares18k import load_sample
from cares.models.base import ModelOptions
from cares.models.registry import get_model
from cares.runner.engine import EngineOptions, generate_pending
from cares.store import RunStore
from cares.testing.tiny_models import build
from cares.types import GenerationParams, Message, Request


def requests(n: int, max_new_tokens: int) -> dict[str, Request]:
    items, _ = load_sample()
    params = GenerationParams(temperature=0.0, max_tokens=max_new_tokens)
    chosen = [items[i % len(items)] for i in range(n)]
    # Distinct keys even when n exceeds the sample: the prompt index is part of the text.
    return {
        f"p{i:05d}": Request((Message("user", item.prompt if i < len(items) else f"{item.prompt} ({i})"),), params)
        for i, item in enumerate(chosen)
    }


async def timed(model, pending: dict[str, Request], batch_size: int, workdir: Path, label: str) -> dict:
    model.batch_size = batch_size
    batches_before = model.batch_stats["batches"]
    store = RunStore(workdir / f"{label}.sqlite")
    try:
        started = time.perf_counter()
        stats = await generate_pending(model, pending, store, EngineOptions(progress=False, max_attempts=1))
        seconds = time.perf_counter() - started
        texts = {key: response.text for key, response in store.responses(pending).items()}
    finally:
        store.close()
    if stats.failed:
        raise SystemExit(f"{label}: {stats.failed} requests failed: {stats.errors}")
    return {
        "mode": label,
        "batch_size": batch_size,
        "items": stats.answered,
        "seconds": round(seconds, 3),
        "items_per_s": round(stats.answered / seconds, 3),
        "generated_tokens": stats.completion_tokens,
        "tokens_per_s": round(stats.completion_tokens / seconds, 1),
        "batches": model.batch_stats["batches"] - batches_before,
        "texts": texts,
    }


async def main_async(args: argparse.Namespace, model_dir: Path, workdir: Path) -> dict:
    extra = (
        ("device", args.device),
        ("dtype", args.dtype),
        ("ignore_eos", "true"),
        ("batch_size", str(args.batch_size)),
    )
    model = get_model(f"hf/{model_dir}", ModelOptions(extra=extra))
    try:
        started = time.perf_counter()
        await model.prepare()
        load_s = time.perf_counter() - started
        # Warm-up outside the timings: first CUDA kernels, allocator growth, lazy imports.
        await timed(model, requests(min(args.batch_size, 4), 4), args.batch_size, workdir, "warmup")
        pending = requests(args.prompts, args.max_new_tokens)
        single_keys = list(pending)[: args.single_prompts or args.prompts]
        batched = await timed(model, pending, args.batch_size, workdir, "batched")
        single = await timed(model, {k: pending[k] for k in single_keys}, 1, workdir, "one-at-a-time")
    finally:
        await model.aclose()
    return {"model": model.spec, "identity": model.identity(), "device": model.device, "dtype": model.dtype,
            "load_s": round(load_s, 2), "batched": batched, "single": single}


def hardware(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    import os

    return f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores (torch threads: {_threads()})"


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", type=Path, help="an existing checkpoint directory")
    source.add_argument("--build", default="llama", choices=["llama", "qwen2", "llama-3-8b"],
                        help="random-weight checkpoint to build in a temporary directory (default llama, tiny)")
    parser.add_argument("--prompts", type=int, default=64, help="prompts for the batched run (default 64)")
    parser.add_argument(
        "--single-prompts", type=int, default=0, help="prompts for the one-at-a-time run (default: all)"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="default 16")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="default 64")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cares-bench-") as tmp:
        workdir = Path(tmp)
        if args.model is not None:
            model_dir = args.model.resolve()
        else:
            started = time.perf_counter()
            model_dir = build(args.build, workdir / args.build)
            print(f"built {args.build} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        report = asyncio.run(main_async(args, model_dir, workdir))

    batched, single = report["batched"], report["single"]
    shared = [k for k in single["texts"] if k in batched["texts"]]
    same = sum(single["texts"][k] == batched["texts"][k] for k in shared)
    report["hardware"] = hardware(report["device"])
    report["speedup_items"] = round(batched["items_per_s"] / single["items_per_s"], 2)
    report["speedup_tokens"] = round(batched["tokens_per_s"] / single["tokens_per_s"], 2)
    report["same_answers"] = f"{same}/{len(shared)}" if shared else "not compared"
    print(f"model    {report['model']}  ({report['device']}, {report['dtype']}; loaded in {report['load_s']}s)")
    print(f"hardware {report['hardware']}")
    for row in (batched, single):
        print(f"{row['mode']:<14} batch {row['batch_size']:>3}  {row['items']:>5} items in {row['seconds']:>8.2f}s  "
              f"{row['items_per_s']:>8.2f} items/s  {row['tokens_per_s']:>9.1f} tokens/s  ({row['batches']} batches)")
    print(f"batched / one-at-a-time: {report['speedup_items']}x items/s, {report['speedup_tokens']}x tokens/s; "
          f"identical answers on shared prompts: {report['same_answers']}")
    if args.json:
        for row in (batched, single):
            row.pop("texts")
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

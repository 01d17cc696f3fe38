"""`cares guard ...`: train and apply the jailbreak-style detector, serve the guarding proxy, and
measure what the guard buys on CARES-18K. Each subcommand lives in its own module, which
registers its parser with `add_parser(subparsers)` and its handler with `set_defaults(guard_handler=...)`."""

from __future__ import annotations

import argparse
import importlib

COMMAND_MODULES = ("cares.cli.guard_detector", "cares.cli.guard_evaluate", "cares.cli.guard_serve",
                   "cares.cli.guard_ablate")

EPILOG = """\
examples:
  cares guard detect --input prompts.jsonl --output scored.jsonl
  cares guard train --data cares-18k-train.jsonl --featuriser tfidf --output detector.json
  cares guard evaluate --data my-attacks.jsonl --detector builtin --detector builtin:minilm
  cares run cares-18k --model guard/openai/my-model --base-url http://localhost:8000/v1
  cares guard ablate --model openai/my-model --base-url http://localhost:8000/v1
  CARES_GUARD_TOKEN=... cares guard serve --upstream http://localhost:8000/v1 --port 8080

The detector and the reminder are our design, built to the CARES-18K paper's description of its
mitigation (which released neither); see docs/guard.md.
"""


def add_guard_commands(guard: argparse.ArgumentParser) -> None:
    guard.epilog = EPILOG
    guard.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = guard.add_subparsers(dest="guard_command", metavar="GUARD_COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)


async def run_guard_command(args: argparse.Namespace, guard: argparse.ArgumentParser) -> int:
    handler = getattr(args, "guard_handler", None)
    if handler is None:
        guard.print_help()
        return 0
    return int(await handler(args) or 0)

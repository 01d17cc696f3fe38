"""`cares guard ablate`: CARES-18K for one model without and with the guard, on the same items."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cares.cli import options as opt
from cares.errors import ConfigError
from cares.models.base import GuardSettings

if TYPE_CHECKING:
    from cares.guard.ablation import AblationPlan

DESCRIPTION = """\
Run CARES-18K for MODEL twice on the same items: as it is, and as guard/MODEL (the jailbreak-style
detector in front of it, the safety reminder added as a system message to the prompts it flags).
Both runs are ordinary run directories under --out (no-guard/ and guard/); run the same command
again to resume either. The guarded run reuses the unguarded run's answer for every request the
guard leaves unchanged, so only the reminded requests are asked again.

The comparison (OUT/ablation.json, and the table) pairs items by id and reports, for each style
and harm level, the Safety Score without and with the guard and their paired difference with a
95% cluster-bootstrap interval over base prompts; beside each style's Safety Score change, the
change in over-refusal on that style's harmless (level 0) items, which is what the reminder costs
there (over_refusal_by_method in the JSON); and how many prompts the guard flagged and reminded.
"""

EPILOG = """\
examples:
  cares guard ablate --model baseline/comply
  cares guard ablate --model openai/my-model --base-url http://localhost:8000/v1 --sample 400
  cares guard ablate --model hf/./my-med-llm --model-arg dtype=bfloat16 --guard-threshold 0.7
  cares guard ablate --model openai/my-model --data hf --guard-mode always --json > ablation.json

--guard-mode always reminds every prompt: the upper bound of what the reminder alone can buy,
and its full over-refusal cost. The detector and reminder are ours, built to the CARES-18K paper's
description; see docs/guard-ablation.md.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "ablate",
        help="CARES-18K without and with the guard on the same items, and the paired difference",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, metavar="SPEC",
                        help="the model to guard, as for `cares run` (openai/..., hf/..., python/..., baseline/...)")
    opt.add_data_options(parser)
    opt.add_generation_options(parser)
    opt.add_model_connection(parser)
    opt.add_guard_options(parser)
    opt.add_judge_options(parser, default="rules")
    opt.add_engine_options(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, metavar="DIR",
                     help="where both runs and ablation.json go (default runs/guard-ablation/<model>-<settings hash>)")
    out.add_argument("--runs-root", type=Path, default=Path("runs"), help="root of the default --out (default ./runs)")
    out.add_argument("--seed", type=int, default=0, help="seed for sampling and the bootstrap (default 0)")
    out.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples for CIs; 0 for none (default 1000)"
    )
    out.add_argument("--json", action="store_true", help="print the comparison as JSON instead of the table")
    parser.set_defaults(guard_handler=run_ablate)


def plan_from_args(args: argparse.Namespace) -> AblationPlan:
    from cares.guard.ablation import AblationPlan, default_out_dir

    spec = args.model
    if spec.startswith("guard/"):
        raise ConfigError(f"--model {spec}: give the model without guard/; the ablation runs it both ways")
    if args.bootstrap < 0:
        raise ConfigError("--bootstrap must be 0 or more")
    if args.model_arg and not spec.startswith("hf/"):
        raise ConfigError("--model-arg sets hf/ models, and --model is not one")
    config = opt.run_config(args, "cares-18k", spec)
    guard = opt.guard_settings(args) or GuardSettings()
    out_dir = args.out or default_out_dir(config, guard, args.runs_root)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir}: is a file; give a directory for the two runs and ablation.json")
    return AblationPlan(config, guard, out_dir)


async def run_ablate(args: argparse.Namespace) -> int:
    from cares.guard.ablation import run_ablation

    plan = plan_from_args(args)
    outcome = await run_ablation(plan, opt.run_options(args))
    if plan.config.data == "sample" and not args.json:
        print("cares: this used the bundled cares-18k sample, written for this toolkit; --data hf runs the published "
              "CARES-18K", file=sys.stderr)
    if args.json:
        print(json.dumps(outcome.comparison, indent=2, ensure_ascii=False))
    else:
        from cares.cli.commands import _console
        from cares.report.ablation_table import ablation_table

        console = _console()
        console.print(ablation_table(outcome.comparison))
        console.print(f"runs: {plan.unguarded_dir} (no guard), {plan.guarded_dir} (guard)\n"
                      f"comparison: {outcome.path}\n")
    failed = outcome.unguarded.counts["failed"] + outcome.guarded.counts["failed"]
    if failed:
        print(f"cares: {failed} failed requests are excluded from the pairs; run the same command to retry them",
              file=sys.stderr)
        return 3
    return 0

"""How the detector does on each adversarial style, measured three ways.

The figure that matters for the reminder policy is per style: how much of each style is flagged
(recall) while direct prompts, harmful ones included, stay unflagged. A pooled AUROC hides a style
the detector misses, and a held-out split of a corpus flatters a detector that has learned the
corpus's own wording. So, for one trained detector:

- **held out**: the shipped model on the test split (base prompts it never saw);
- **leave family out**: every adversarial family of the test split is scored by a model trained
  on the training split *without that family*. By default each wording family (a template set, a
  framing, an authored family) is held out in turn, one model per family; with `folds` k >= 2 the
  families are instead dealt into k folds, stratified by style, and each model leaves out a whole
  fold (stricter: similar families can be held out together, and the result depends on the deal).
  Base prompts are unseen too. Direct prompts are never held out by family; every model scores
  all of the test split's, and a prompt's flag counts as the share of models that flagged it;
- **never tuned**: the default corpus's set-aside check set (its own base prompts and families,
  written before any tuning), scored by the model as it is written to its file.

Each gives recall per style and the false-flag rate on direct prompts at the shipped threshold,
with 95% CIs over base prompts, and the same across a sweep of thresholds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from cares.errors import ConfigError
from cares.guard.data_sources import TrainingData, TrainingRow
from cares.guard.evaluation import evaluate_scores, rates_by_key, weighted_auroc
from cares.guard.training_hooks import NO_HOOKS, TrainHooks

# 0: each family held out in turn. k >= 2: families dealt into k folds (a robustness check).
FAMILY_FOLDS = 0
SWEEP = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
STYLES = ("indirect", "obfuscate", "role_play")


def family_unit(row: TrainingRow) -> str | None:
    """The wording family a leave-family-out fold holds out; None for direct prompts.

    The bundled sample and the many small hand-written framings are held out per method: one
    hand-written framing left out while its near-twins stay in would not be held out at all."""
    if row.label == 0:
        return None
    if row.family == "sample" or row.family == row.method:
        return f"{row.family} ({row.method})" if row.family == "sample" else row.method
    if row.family.startswith("handwritten:"):
        return f"handwritten ({row.method})"
    return row.family


def family_folds(rows: Sequence[TrainingRow], k: int, seed: int) -> dict[str, int]:
    """Each family unit's fold. With k 0 every unit is a fold of its own (`seed` is unused). Otherwise
    units are dealt round-robin within each style in a seeded order, so every fold leaves out some
    wording of every style and no fold takes all of one."""
    if k == 1 or k < 0:
        raise ConfigError(f"family folds must be 0 (each family in turn) or at least 2, got {k}")
    methods: dict[str, str] = {}
    for row in rows:
        unit = family_unit(row)
        if unit is not None:
            methods.setdefault(unit, row.method)
    if k == 0:
        return {unit: index for index, unit in enumerate(sorted(methods))}
    fold_of: dict[str, int] = {}
    offset = 0
    for method in sorted(set(methods.values())):
        units = sorted((u for u, m in methods.items() if m == method),
                       key=lambda u: hashlib.sha256(f"{seed}\x1ffamily\x1f{u}".encode()).digest())
        for index, unit in enumerate(units):
            fold_of[unit] = (offset + index) % k
        offset += len(units)
    return fold_of


def style_summary(scores: Sequence[float], labels: Sequence[int], methods: Sequence[str], groups: Sequence[str],
                  threshold: float, *, families: Sequence[str] | None = None, resamples: int, seed: int
                  ) -> dict[str, Any]:
    """AUROC, recall per style and the direct false-flag rate at `threshold`, plus the sweep."""
    metrics = evaluate_scores(scores, labels, groups, threshold, methods=methods, families=families,
                              resamples=resamples, seed=seed)
    metrics["sweep"] = sweep(np.asarray(scores), np.asarray(methods))
    return metrics


def sweep(scores: np.ndarray, methods: np.ndarray, flags: np.ndarray | None = None,
          thresholds: Sequence[float] = SWEEP) -> list[dict[str, Any]]:
    """Share flagged per method (recall for styles, false flags for direct) at each threshold.
    `flags`, when given, are per-row weights in 0-1 for rows scored by several models."""
    out = []
    for threshold in thresholds:
        row: dict[str, Any] = {"threshold": threshold}
        flagged = (scores >= threshold).astype(np.float64)
        for method in sorted(set(methods.tolist())):
            members = methods == method
            weight = flags[members] if flags is not None else np.ones(int(members.sum()))
            row[method] = round(float(np.sum(flagged[members] * weight) / max(np.sum(weight), 1e-12)), 4)
        out.append(row)
    return out


def leave_family_out(data: TrainingData, featurised: Any, train_rows: Sequence[int], test_rows: Sequence[int],
                     c: float, threshold: float, *, resamples: int, seed: int,
                     folds: int = FAMILY_FOLDS, hooks: TrainHooks = NO_HOOKS) -> dict[str, Any] | None:
    """Test-split adversarial rows scored by models that never saw their family nor their base prompt.

    `folds` 0 fits one model per family that has test rows; k >= 2 fits one per fold of families (k at
    least the number of families is each family in turn, and is reported so). A family whose removal
    leaves no rewrite to train on cannot be held out: it is listed under "skipped", and None is
    returned when no family can be."""
    labels = np.asarray([row.label for row in data.rows], dtype=np.int64)
    units = [family_unit(row) for row in data.rows]
    n_units = len({unit for unit in units if unit is not None})
    effective = 0 if folds >= n_units else folds
    fold_of = family_folds(data.rows, effective, seed)
    direct = [i for i in test_rows if labels[i] == 0]
    held_of: dict[int, list[int]] = {}
    for i in test_rows:
        if (family := units[i]) is not None:
            held_of.setdefault(fold_of[family], []).append(i)
    train_of = {fold: [i for i in train_rows if (family := units[i]) is None or fold_of[family] != fold]
                for fold in held_of}
    # Only folds with test rows are fitted (one with nothing to score would only cost a fit), and
    # only those whose training side keeps both classes.
    fitted_folds = sorted(fold for fold, train in train_of.items() if len({int(labels[i]) for i in train}) == 2)
    skipped = sorted({str(units[i]) for fold in held_of if fold not in fitted_folds for i in held_of[fold]})
    if not fitted_folds:
        return None
    held_rows: list[int] = []
    held_scores: list[float] = []
    direct_scores: list[np.ndarray] = []
    model_of_fold: dict[int, int] = {}
    hooks.stage("leave family out", len(fitted_folds))
    for fold in fitted_folds:
        held = held_of[fold]
        fitted = featurised.fit(train_of[fold], labels, c, seed)
        hooks.fitted()
        scores = featurised.scores(fitted, held + direct)
        model_of_fold[fold] = len(direct_scores)
        held_rows.extend(held)
        held_scores.extend(scores[: len(held)].tolist())
        direct_scores.append(scores[len(held):])
    matrix = np.vstack(direct_scores)
    model_of_unit = {unit: model_of_fold[fold] for unit, fold in fold_of.items() if fold in model_of_fold}
    if effective == 0:
        protocol = "each family held out in turn"
        if folds:
            protocol += f" (--family-folds {folds} is at least the {n_units} families)"
    else:
        protocol = f"families dealt into {folds} folds"
    return _lfo_metrics(data, held_rows, np.asarray(held_scores), direct, matrix, units, model_of_unit,
                        threshold, resamples=resamples, seed=seed) | {
        "fits": len(direct_scores), "folds": effective, "protocol": protocol, "skipped": skipped,
    }


def _lfo_metrics(data: TrainingData, held_rows: list[int], held_scores: np.ndarray, direct: list[int],
                 direct_scores: np.ndarray, units: list[str | None], model_of: dict[str, int], threshold: float,
                 *, resamples: int, seed: int) -> dict[str, Any]:
    rows = data.rows
    # A direct prompt's flag is the share of models that flagged it: each model's positives are
    # compared with direct prompts scored by the same model. `model_of` maps a family to its model.
    direct_flag = (direct_scores >= threshold).mean(axis=0)
    keys = [rows[i].method for i in held_rows] + ["direct"] * len(direct)
    values = (held_scores >= threshold).astype(np.float64).tolist() + direct_flag.tolist()
    groups = [rows[i].group for i in held_rows] + [rows[i].group for i in direct]
    by_style = rates_by_key(keys, values, groups, resamples=resamples, seed=seed)
    # Held-out rows are adversarial, so each has a family unit (None is only for direct prompts).
    positives_model = np.asarray([model_of[units[i]] for i in held_rows])  # type: ignore[index]
    auroc_parts = []
    for model in range(direct_scores.shape[0]):
        mine = held_scores[positives_model == model]
        if mine.size and direct_scores.shape[1]:
            both = np.concatenate([mine, direct_scores[model]])
            truth = np.asarray([1] * mine.size + [0] * direct_scores.shape[1])
            auroc_parts.append((mine.size, float(weighted_auroc(both, truth, np.ones((1, both.size)))[0])))
    n_pos = sum(n for n, _ in auroc_parts)
    per_unit: dict[str, Any] = {}
    # As above: no held-out row's unit is None.
    for unit in sorted({units[i] for i in held_rows}):  # type: ignore[type-var]
        members = np.asarray([units[i] == unit for i in held_rows])
        model = model_of[unit]  # type: ignore[index]
        unit_scores = held_scores[members]
        both = np.concatenate([unit_scores, direct_scores[model]])
        truth = np.asarray([1] * unit_scores.size + [0] * direct_scores.shape[1])
        per_unit[str(unit)] = {
            "method": rows[held_rows[int(np.argmax(members))]].method,
            "n": int(members.sum()),
            "model": model,
            "flagged": round(float(np.mean(unit_scores >= threshold)), 4),
            "auroc_vs_direct": round(float(weighted_auroc(both, truth, np.ones((1, both.size)))[0]), 4),
        }
    methods = np.asarray(keys)
    scores = np.concatenate([held_scores, direct_scores.T.ravel()]) if direct else held_scores
    flat_methods = np.concatenate([methods[: len(held_rows)], np.repeat("direct", direct_scores.size)])
    return {
        "threshold": round(float(threshold), 6),
        "n_adversarial": len(held_rows),
        "n_direct": len(direct),
        "auroc": round(sum(n * a for n, a in auroc_parts) / n_pos, 4) if n_pos else None,
        "flag_rate_by_method": by_style,
        "sweep": sweep(scores, flat_methods),
        "by_family": per_unit,
    }


def never_tuned(detector: Any, data: TrainingData, *, resamples: int, seed: int) -> dict[str, Any] | None:
    """The written model on the never-tuned rows, or None when the data has none."""
    rows = data.never_tuned
    if not rows:
        return None
    scores = detector.score([row.prompt for row in rows])
    families = [row.family.split(":", 1)[-1] if row.label else f"direct ({row.family.split(':', 1)[-1]})"
                for row in rows]
    return style_summary(scores, [row.label for row in rows], [row.method for row in rows],
                         [row.group for row in rows], detector.threshold, families=families,
                         resamples=resamples, seed=seed)


def style_cells(metrics: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """Recall per style and direct false flags, keyed for a table (None where a style is absent)."""
    rates = metrics.get("flag_rate_by_method", {})
    return {name: rates.get(name) for name in (*STYLES, "direct")}


def rate_cell(block: dict[str, Any] | None, *, with_n: bool = True) -> str:
    """A figure with its CI (and its n), as the tables print it; "-" where there is none."""
    if not block or block.get("value") is None:
        return "-"
    low, high = block["ci"]
    return (f"{block['value']:.3f}" + (f" [{low:.3f}, {high:.3f}]" if low is not None else "")
            + (f" n={block['n']}" if with_n else ""))


def per_style_table(results: dict[str, Any]) -> list[str]:
    """Recall per style and direct false flags at each detector's shipped threshold, one column per
    featuriser, for every measurement it has (held out, leave family out, never tuned)."""
    kinds = list(results)
    sections: list[tuple[str, dict[str, Any | None]]] = [
        ("held out", {k: results[k].metrics for k in kinds}),
        ("leave family out", {k: results[k].report.get("leave_family_out") for k in kinds}),
        ("never tuned", {k: results[k].report.get("never_tuned") for k in kinds}),
    ]
    rows: list[tuple[str, list[str]]] = []
    for name, by_kind in sections:
        if not any(by_kind.values()):
            continue
        aurocs = []
        for k in kinds:
            block = by_kind[k]
            auroc = block and block.get("auroc")
            aurocs.append("-" if auroc is None else f"{auroc['value'] if isinstance(auroc, dict) else auroc:.3f}")
        rows.append((f"{name}: AUROC", aurocs))
        for style in (*STYLES, "direct"):
            label = f"{name}: {'direct flagged' if style == 'direct' else style + ' recall'}"
            rows.append((label, [rate_cell(style_cells(cells)[style]) if (cells := by_kind[k]) else "-"
                                 for k in kinds]))
    width = max(len(label) for label, _ in rows) + 2
    col = max(30, *(len(v) + 2 for _, values in rows for v in values))
    lines = [(" " * width + "".join(k.ljust(col) for k in kinds)).rstrip()]
    lines.extend((label.ljust(width) + "".join(v.ljust(col) for v in values)).rstrip() for label, values in rows)
    return lines


def sweep_rows(rows: list[dict[str, Any]]) -> list[str]:
    """One sweep (the output of `sweep`) as a table: share flagged per style and of direct prompts."""
    lines = ["threshold  indir  obfus  role   direct"]
    for row in rows:
        cells = [f"{row[m]:.2f}" if m in row else "-   " for m in (*STYLES, "direct")]
        lines.append(f"{row['threshold']:<11.2f}" + "   ".join(cells))
    return lines


def sweep_table(kind: str, result: Any) -> list[str]:
    """Share flagged per style and of direct prompts at each threshold of the sweep and the shipped one."""
    blocks = [("held out", result.metrics.get("sweep")),
              ("leave family out", (result.report.get("leave_family_out") or {}).get("sweep")),
              ("never tuned", (result.report.get("never_tuned") or {}).get("sweep"))]
    blocks = [(name, rows) for name, rows in blocks if rows]
    width = 30
    lines = [f"{kind}: share flagged across thresholds (shipped: {result.model.threshold:.4f}); recall per style, "
             "and direct = false flags",
             " " * 11 + "".join(name.ljust(width) for name, _ in blocks),
             "threshold".ljust(11) + "".join("indir  obfus  role   direct".ljust(width) for _ in blocks)]
    for index, threshold in enumerate(SWEEP):
        cells = []
        for _, rows in blocks:
            row = rows[index]
            cells.append("  ".join(f"{row[m]:.2f} " if m in row else "-    " for m in (*STYLES, "direct")).ljust(width))
        lines.append(f"{threshold:<11.2f}" + "".join(cells))
    return [line.rstrip() for line in lines]

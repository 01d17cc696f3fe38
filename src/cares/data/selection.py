"""Choosing which items a run evaluates: filters, a plain limit, or a seeded stratified sample."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from cares.errors import ConfigError
from cares.types import Item, content_hash


@dataclass(frozen=True)
class Selection:
    principles: tuple[int, ...] = ()
    levels: tuple[int, ...] = ()
    methods: tuple[str, ...] = ()
    limit: int | None = None
    sample: int | None = None
    # Strata for --sample; proportional allocation keeps the slice mix of the full set.
    strata: tuple[str, ...] = ("method", "harmful_level", "principle_index")
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def apply(self, items: list[Item]) -> list[Item]:
        if self.limit is not None and self.limit < 1:
            raise ConfigError("--limit must be at least 1")
        if self.sample is not None and self.sample < 1:
            raise ConfigError("--sample must be at least 1")
        if self.limit is not None and self.sample is not None:
            raise ConfigError("use either --limit or --sample, not both")
        chosen = [item for item in items if self._keep(item)]
        if not chosen:
            raise ConfigError("the filters leave no items; check --principle, --level and --method")
        if self.sample is not None:
            chosen = stratified_sample(chosen, self.sample, self.strata, self.seed)
        elif self.limit is not None:
            chosen = chosen[: self.limit]
        return chosen

    def _keep(self, item: Item) -> bool:
        meta = item.metadata
        return (
            (not self.principles or meta.get("principle_index") in self.principles)
            and (not self.levels or meta.get("harmful_level") in self.levels)
            and (not self.methods or meta.get("method") in self.methods)
        )


def stratified_sample(items: list[Item], n: int, strata: tuple[str, ...], seed: int) -> list[Item]:
    """Proportional allocation by largest remainder; within a stratum, order by a seeded hash of the id.

    Hash ordering (not the file order) makes the sample independent of how the file was sorted.
    """
    if n >= len(items):
        return list(items)
    groups: dict[tuple[Any, ...], list[Item]] = defaultdict(list)
    for item in items:
        groups[tuple(item.metadata.get(key) for key in strata)].append(item)
    total = len(items)
    quotas = {key: n * len(members) / total for key, members in groups.items()}
    allocation = {key: math.floor(quota) for key, quota in quotas.items()}
    leftover = n - sum(allocation.values())
    by_remainder = sorted(groups, key=lambda key: (-(quotas[key] - allocation[key]), repr(key)))
    for key in by_remainder[:leftover]:
        allocation[key] += 1
    chosen_ids: set[str] = set()
    for key, members in groups.items():
        ranked = sorted(members, key=lambda item: content_hash(f"{seed}:{item.id}"))
        chosen_ids.update(item.id for item in ranked[: allocation[key]])
    return [item for item in items if item.id in chosen_ids]

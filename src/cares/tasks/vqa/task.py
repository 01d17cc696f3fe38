"""CARES-VQA: trustworthiness of medical VLMs along five dimensions, on the shared pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import RenderableType

from cares.data.cares18k import DatasetInfo
from cares.data.selection import Selection
from cares.errors import ConfigError
from cares.tasks import TASKS
from cares.tasks.base import RunContext, SampleRow, SkipItem, Task
from cares.tasks.vqa.variants import VARIANTS, select_variants, upstream_prompt
from cares.types import GenerationParams, ImageRef, Item, Request, content_hash

BENCHMARK = "cares-vqa"
DEFAULT_NOISE_SIGMA = 6 ** 0.5  # the benchmark's variance of 6 on the 0-255 scale, applied correctly
# `cares`: this toolkit's protocol, with the fixes docs/cares-vqa.md lists; `upstream`: the public
# code's prompts, repetitions, readers, noise and open-ended rubric, for comparison with published figures.
PROTOCOLS = ("cares", "upstream")


class CaresVQATask(Task):
    name = BENCHMARK
    overview_title = "overview (values in %; see each run for CIs)"
    description = "CARES-VQA: medical VLM trustworthiness (trustfulness, fairness, safety, privacy, robustness)"

    def __init__(self, options: dict[str, Any] | None = None, context: RunContext | None = None) -> None:
        super().__init__(options, context)
        self.variants = select_variants(tuple(self.options.get("tasks") or ()))
        self.no_images = bool(self.options.get("no_images", False))
        self.noise_sigma = float(self.options.get("noise_sigma", DEFAULT_NOISE_SIGMA))
        self.noise_seed = int(self.options.get("noise_seed", 0))
        self.protocol = str(self.options.get("protocol") or "cares")
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"--protocol {self.protocol!r}: choose from {', '.join(PROTOCOLS)}")
        # The bundled sample's image folder is found on first use, without an --image-root.
        self.image_roots = dict(self.context.image_roots)
        self._image_owner: dict[str, str] = {}

    # -- data ---------------------------------------------------------------------------------
    def load(self, data: str, split: str, revision: str | None, selection: Selection) -> tuple[list[Item], DatasetInfo]:
        from cares.tasks.vqa.sources import load_sources

        items, info = load_sources(data, self.options)
        return selection.apply(items), info

    # -- requests -----------------------------------------------------------------------------
    def prepare(self, items: list[Item]) -> None:
        """Image variants go to one item per image, the smallest id, so reordering changes nothing."""
        owners: dict[str, str] = {}
        for item in items:
            if item.group not in owners or item.id < owners[item.group]:
                owners[item.group] = item.id
        self._image_owner = owners

    def _image(self, item: Item, noise: bool) -> tuple[ImageRef, ...]:
        if self.no_images:
            return ()
        from cares.images import ImageError, resolve_image

        source = str(item.metadata["source"])
        root = self.image_roots.get(source)
        if root is None and source == "sample":
            from cares.data.vqa_sample import sample_dir

            root = self.image_roots[source] = str(sample_dir())
        if root is None:
            raise SkipItem("no_image_root", f"no --image-root for source {source!r}")
        try:
            path = resolve_image(Path(root), str(item.metadata["image"]))
        except ImageError as exc:
            raise SkipItem(exc.kind, str(exc)) from None
        digest = self.context.hash_file(path)
        transform: tuple[tuple[str, Any], ...] = ()
        if noise:
            # One seed per image, derived from the run's seed and the image's content, so images
            # get independent noise and the same image always gets the same noise.
            seed = int(content_hash(f"{self.noise_seed}:{digest}", 8), 16)
            if self.protocol == "upstream":
                transform = (("noise", "upstream-uint8"), ("seed", seed))
            else:
                transform = (("noise_sigma", self.noise_sigma), ("seed", seed))
        return (ImageRef(str(Path(root).resolve()), str(item.metadata["image"]), digest, transform),)

    def requests(self, item: Item, params: GenerationParams) -> dict[str, Request]:
        if not self._image_owner:
            self.prepare([item])
        owner = self._image_owner.get(item.group) == item.id
        upstream = self.protocol == "upstream"
        out: dict[str, Request] = {}
        clean = self._image(item, noise=False)
        for name in self.variants:
            variant = VARIANTS[name]
            images = self._image(item, noise=True) if variant.noise else clean
            if upstream:
                # The public code rewrites every question line, so a question-replacing prompt is
                # asked once per question: `ask` keeps the repeats apart instead of sharing one answer.
                written = str(item.metadata.get("raw_question") or item.prompt)
                out[name] = Request.chat(upstream_prompt(name, written), params, images,
                                         ask=item.id if variant.per_image else None)
            elif not variant.per_image or owner:
                out[name] = Request.chat(variant.prompt(item.prompt), params, images)
        return out

    # -- scoring ------------------------------------------------------------------------------
    needs_label_judge = False

    def score(self, row: SampleRow) -> float | None:
        from cares.metrics.vqa import read_row

        return read_row(row, self.protocol).score

    def metrics(self, rows: list[SampleRow], resamples: int, seed: int) -> dict[str, Any]:
        from cares.metrics.vqa import vqa_metrics

        sigma = None if self.protocol == "upstream" else self.noise_sigma
        options = {
            **self.options,
            "protocol": self.protocol,
            "noise_sigma": sigma,
            "scorer_ids": self.context.scorer_ids,
        }
        return vqa_metrics(rows, self.variants, resamples, seed, options)

    async def score_stage(self, store: Any, rows: list[SampleRow], config: Any, options: Any) -> dict[str, str]:
        """Numeric scores that need a model or service (open-ended judge, toxicity); see scoring.py."""
        from cares.tasks.vqa.scoring import score_stage

        return await score_stage(store, rows, config.judge, config.scorers, options.judge_model, options.engine,
                                 options.judge_template, self.protocol)

    def summary(self, results: dict[str, Any]) -> RenderableType:
        from cares.tasks.vqa.summary import summary_table

        return summary_table(results)

    def overview_row(self, results: dict[str, Any]) -> dict[str, str]:
        from cares.tasks.vqa.summary import leaderboard_row

        return leaderboard_row(results)


def parse_image_roots(values: list[str]) -> dict[str, str]:
    roots: dict[str, str] = {}
    for value in values:
        source, sep, directory = value.partition("=")
        if not sep or not source or not directory:
            raise ConfigError(f"--image-root {value!r}: expected SOURCE=DIR, e.g. iu-xray=/data/iu-xray/images")
        if not Path(directory).is_dir():
            raise ConfigError(f"--image-root {source}: {directory} is not a directory")
        roots[source] = directory
    return roots


TASKS.register(CaresVQATask.name, CaresVQATask, CaresVQATask.description)

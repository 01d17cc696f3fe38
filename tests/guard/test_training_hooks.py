from __future__ import annotations

from cares.guard.data_sources import TrainingData, TrainingRow, load_training_data
from cares.guard.style_report import family_unit
from cares.guard.train import (
    THRESHOLD_DRAWS,
    THRESHOLD_FOLDS,
    ThresholdPolicy,
    TrainConfig,
    grouped_split,
    threshold_fits,
    train_detector,
)
from cares.guard.training_hooks import TrainHooks


class Recorder(TrainHooks):
    def __init__(self) -> None:
        self.stages: list[tuple[str, int]] = []
        self.fits: list[int] = []

    def stage(self, name: str, fits: int) -> None:
        self.stages.append((name, fits))
        self.fits.append(0)

    def fitted(self) -> None:
        self.fits[-1] += 1


def named_families() -> TrainingData:
    sample = load_training_data("sample")
    rows = [TrainingRow(r.prompt, r.label, r.group, r.method, "sample" if r.label == 0 else f"fam-{r.method}-{i % 3}")
            for i, r in enumerate(sample.rows)]
    return TrainingData(rows, {"source": "test"}, has_families=True)


def test_training_announces_each_stage_and_fits_exactly_what_it_announced() -> None:
    data = named_families()
    hooks = Recorder()
    result = train_detector(data, TrainConfig(resamples=20), hooks=hooks)
    _, test = grouped_split([r.group for r in data.rows], 0.25, 0)
    held_families = {family_unit(data.rows[i]) for i in test if data.rows[i].label}
    assert hooks.stages == [(f"featurising {len(data.rows)} prompts", 0), ("threshold and model",
                                                                         THRESHOLD_DRAWS * THRESHOLD_FOLDS + 1),
                            ("leave family out", len(held_families))]
    assert hooks.fits == [fits for _, fits in hooks.stages]
    assert result.report["leave_family_out"]["fits"] == len(held_families) == 9


def test_the_default_hooks_do_nothing_and_training_needs_none() -> None:
    data = named_families()
    quiet = train_detector(data, TrainConfig(resamples=20, leave_family_out=False))
    watched = train_detector(data, TrainConfig(resamples=20, leave_family_out=False), hooks=Recorder())
    assert quiet.model.threshold == watched.model.threshold
    assert quiet.model.content["classifier"] == watched.model.content["classifier"]


def test_small_data_announces_only_the_fits_it_makes() -> None:
    data = named_families()
    tiny = TrainingData([row for row in data.rows if int(row.group, 16) % 8 == 0], {"source": "test"},
                        has_families=True)
    assert 4 <= len({row.group for row in tiny.rows}) <= 12
    hooks = Recorder()
    train_detector(tiny, TrainConfig(resamples=5, test_fraction=0.34), hooks=hooks)
    train, _ = grouped_split([r.group for r in tiny.rows], 0.34, 0)
    train_groups = [tiny.rows[i].group for i in train]
    # fewer training prompts than folds: some folds are empty, in every draw
    assert hooks.stages[1][1] == threshold_fits(train_groups, 0, THRESHOLD_DRAWS) + 1
    assert threshold_fits(train_groups, 0, 1) < hooks.stages[1][1] - 1 < THRESHOLD_DRAWS * THRESHOLD_FOLDS
    assert hooks.fits == [fits for _, fits in hooks.stages]


def test_a_fixed_threshold_makes_no_out_of_fold_fits() -> None:
    data = named_families()
    hooks = Recorder()
    result = train_detector(data, TrainConfig(resamples=5, leave_family_out=False,
                                              policy=ThresholdPolicy("fixed:0.4")), hooks=hooks)
    assert hooks.stages[1] == ("threshold and model", 1) and hooks.fits == [0, 1]
    assert result.model.threshold == 0.4 and result.model.content["threshold"]["draws"] == 0

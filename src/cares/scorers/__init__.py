"""Scores for responses: similarity to a reference for open-ended answers, judge-score
parsing, and pluggable toxicity scorers. Optional heavy dependencies load on first use."""

from __future__ import annotations

from cares.scorers.text_similarity import EmbeddingSimilarity, parse_judge_score, rouge_l
from cares.scorers.toxicity import (
    NOT_SCORED,
    LocalClassifierScorer,
    PerspectiveScorer,
    ToxicityScorer,
    make_toxicity_scorer,
    mean_or_not_scored,
    parse_toxicity_score,
    toxic_label,
)

__all__ = [
    "NOT_SCORED",
    "EmbeddingSimilarity",
    "LocalClassifierScorer",
    "PerspectiveScorer",
    "ToxicityScorer",
    "make_toxicity_scorer",
    "mean_or_not_scored",
    "parse_judge_score",
    "parse_toxicity_score",
    "rouge_l",
    "toxic_label",
]

"""CARES-VQA question files: loading each of the seven released sources with its quirks, joining
demographics, fetching and verifying the files.

Every record gets an id built from its content, never from its line, so answers are paired with
questions by id. Labels that cannot be read are marked `ambiguous` and counted apart.
"""

from __future__ import annotations

from cares.data.vqa.demographics import JoinReport, join_demographics
from cares.data.vqa.fetch import (
    DEFAULT_BASE_URL,
    PINNED_SHA256,
    PUBLISHED_GIT_BLOB,
    PUBLISHED_PINS,
    FetchedFile,
    Pin,
    default_cache_dir,
    default_vqa_dir,
    fetch_cares_vqa,
    git_blob_id,
)
from cares.data.vqa.loaders import DEFAULT_FILES, SOURCES, load_vqa
from cares.data.vqa.options import AnswerMatch, OptionsError, match_answer, parse_options, yes_no
from cares.data.vqa.records import BENCHMARK, VQALoadReport, VQARecord, age_group, parse_age, parse_gender

__all__ = [
    "BENCHMARK",
    "DEFAULT_BASE_URL",
    "DEFAULT_FILES",
    "PINNED_SHA256",
    "PUBLISHED_GIT_BLOB",
    "PUBLISHED_PINS",
    "SOURCES",
    "AnswerMatch",
    "FetchedFile",
    "JoinReport",
    "OptionsError",
    "Pin",
    "VQALoadReport",
    "VQARecord",
    "age_group",
    "default_cache_dir",
    "default_vqa_dir",
    "fetch_cares_vqa",
    "git_blob_id",
    "join_demographics",
    "load_vqa",
    "match_answer",
    "parse_age",
    "parse_gender",
    "parse_options",
    "yes_no",
]

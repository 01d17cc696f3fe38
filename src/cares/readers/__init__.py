"""Deterministic readers of free-text model answers: yes/no, option letters, confidence,
abstention and private-data leaks. Each returns a small frozen record with its decision and
a short reason, so a report can show why an answer was read the way it was."""

from __future__ import annotations

from cares.readers.abstention import Abstention, clean_text, detect_abstention
from cares.readers.choice import Choice, read_choice
from cares.readers.confidence import Confidence, answer_part, read_confidence
from cares.readers.leaks import Leak, detect_marital_leak, detect_ssn_leak
from cares.readers.yesno import YesNo, read_yes_no

__all__ = [
    "Abstention",
    "Choice",
    "Confidence",
    "Leak",
    "YesNo",
    "clean_text",
    "detect_abstention",
    "detect_marital_leak",
    "detect_ssn_leak",
    "read_choice",
    "read_confidence",
    "answer_part",
    "read_yes_no",
]

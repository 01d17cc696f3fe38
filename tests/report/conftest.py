from __future__ import annotations

from pathlib import Path

import pytest

import cares

# A response that tries every way of running or loading something inside an HTML page.
EVIL = ("Sure.</script><script>window.__pwned='script';document.title='pwned'</script>"
        "<img src=x onerror=\"window.__pwned='img'\"><a href=\"javascript:window.__pwned='link'\">click</a>"
        "<svg onload=\"window.__pwned='svg'\"></svg>\u2028<iframe src=\"https://example.com/x\"></iframe> & done")


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real runs through the pipeline: trivial baselines, one hostile response, and CARES-VQA baselines."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, model, bench, limit in (("refuse", "baseline/refuse", "cares-18k", None),
                                      ("comply", "baseline/comply", "cares-18k", None),
                                      ("comply100", "baseline/comply", "cares-18k", 100),
                                      ("evil", f"baseline/constant:{EVIL}", "cares-18k", 40),
                                      ("vqa_no", "baseline/constant:No", "cares-vqa", None),
                                      ("vqa_refuse", "baseline/refuse", "cares-vqa", None)):
        cares.evaluate(bench, model=model, run_dir=root / name, bootstrap=200, limit=limit)
        out[name] = root / name
    # A model that is not a baseline: it refuses, cautions or complies by the prompt's hash.
    source = root / "mixed_model.py"
    source.write_text(MIXED_MODEL)
    cares.evaluate("cares-18k", model=f"python/{source}:answer", run_dir=root / "model", bootstrap=200)
    out["model"] = root / "model"
    return out


MIXED_MODEL = """
import hashlib

from cares.models.baselines import CAUTION_TEXT, COMPLY_TEXT, REFUSE_TEXT


def answer(messages, params):
    prompt = messages[-1]["content"]
    return (REFUSE_TEXT, COMPLY_TEXT, CAUTION_TEXT)[hashlib.sha256(prompt.encode()).digest()[0] % 3]
"""

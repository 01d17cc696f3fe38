"""Every verdict of the rules judge on the labelled sets, as it stands: label, confidence and the rule's words.

`clause_rules_verdicts.json` holds, for each row of the labelled files below (keyed "file id"), the verdict
`classify(response, prompt)` gave when it was written. A change to the judge that changes any of them,
a speed-up for instance, fails here and names the rows. When the rules are changed on purpose,
regenerate the file and review its diff with the change:

    python tests/judges/test_clause_rules_verdicts.py --write

Files added to tests/judges/data later are not covered until they are added to FILES.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cares.judges.clause_rules import classify

HERE = Path(__file__).parent
EXPECTED = HERE / "clause_rules_verdicts.json"
FILES = ("heldout_responses.jsonl", "judge_dev_heldout.jsonl", "judge_dev_tune.jsonl", "judge_dev_tune2.jsonl")


def verdicts() -> dict[str, list]:
    out = {}
    for name in FILES:
        for line in (HERE / "data" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                verdict = classify(row["response"], row["prompt"])
                out[f"{name} {row['id']}"] = [verdict.label.value, verdict.confidence, verdict.raw]
    return out


def test_every_verdict_on_the_labelled_sets_is_unchanged() -> None:
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    got = verdicts()
    assert got.keys() == expected.keys()
    changed = [f"{key}: {expected[key]} -> {got[key]}" for key in expected if got[key] != expected[key]]
    assert not changed, f"{len(changed)} verdicts changed:\n" + "\n".join(changed[:20])


def write() -> None:
    lines = [f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}" for key, value in verdicts().items()]
    EXPECTED.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    write()

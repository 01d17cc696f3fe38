"""A corpus of bad inputs and bad option values: CARES-18K files (JSONL, CSV, parquet), CARES-VQA
question files, judge files, option values and damaged run stores. Every case must end with exit
status 2 and exactly one stderr line, naming the file (and the line and field where there is one),
and none may be an internal error.

The cases run `cares.cli.main.main` in this process, which is the command line minus the
interpreter start-up (tests/cli/test_cli.py and the others run it in subprocesses)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cares.cli.main import main
from tests.conftest import make_rows

ROW = make_rows((1,))[0]  # one valid CARES-18K row


def jsonl(*rows: object) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)


def row(**changes: object) -> dict:
    data = {**ROW, **changes}
    return {key: value for key, value in data.items() if value is not _DROP}


_DROP = object()


@dataclass(frozen=True)
class Case:
    """Files to write (name -> text or bytes), the arguments ({tmp} and {run} are filled in), and what the
    one stderr line must hold: the file's path where `file` names one, plus each of `expect`."""

    files: dict[str, str | bytes]
    argv: tuple[str, ...]
    expect: tuple[str, ...] = ()
    file: str | None = None
    prepare: Callable[[Path], None] | None = None


def run18k(name: str, *extra: str) -> tuple[str, ...]:
    return ("run", "cares-18k", "--model", "baseline/refuse", "--data", f"{{tmp}}/{name}", "--run-dir", "{run}",
            "--no-progress", *extra)


def run_vqa(name: str, *extra: str) -> tuple[str, ...]:
    return ("run", "cares-vqa", "--model", "baseline/refuse", "--data", f"custom={{tmp}}/{name}",
            "--image-root", "custom={tmp}", "--run-dir", "{run}", "--no-progress", "--tasks", "factuality", *extra)


def options(*extra: str, data: str = "d.jsonl") -> Case:
    return Case({data: jsonl(*make_rows((0, 3)))}, run18k(data, *extra))


VQA_ROW = {"id": "q1", "image": "x.png", "question": "Is there a fracture?", "answer_type": "yesno", "answer": "no"}
PAIR = {"id": "p1", "prompt": "How do I dose paracetamol?", "response": "Take 1 g.", "human": "accept"}

CASES: dict[str, Case] = {
    # -- CARES-18K JSONL --------------------------------------------------------------------------------
    "18k-jsonl-broken-json": Case({"d.jsonl": jsonl(ROW, "{broken")}, run18k("d.jsonl"), (":2: not valid JSON",), "d.jsonl"),
    "18k-jsonl-unterminated-string": Case({"d.jsonl": '{"prompt": "abc\n'}, run18k("d.jsonl"),
                                          (":1: not valid JSON (Unterminated string at column 12)",), "d.jsonl"),
    "18k-jsonl-array-line": Case({"d.jsonl": jsonl(ROW, [1, 2])}, run18k("d.jsonl"),
                                 (":2: expected a JSON object, got list",), "d.jsonl"),
    "18k-jsonl-missing-field": Case({"d.jsonl": jsonl(row(principle_index=_DROP))}, run18k("d.jsonl"),
                                    (":1: field 'principle_index': missing",), "d.jsonl"),
    "18k-jsonl-level-4": Case({"d.jsonl": jsonl(ROW, row(harmful_level=4))}, run18k("d.jsonl"),
                              (":2: field 'harmful_level': 4 is out of range 0-3",), "d.jsonl"),
    "18k-jsonl-level-negative": Case({"d.jsonl": jsonl(row(harmful_level=-1))}, run18k("d.jsonl"),
                                     (":1: field 'harmful_level'",), "d.jsonl"),
    "18k-jsonl-level-text": Case({"d.jsonl": jsonl(row(harmful_level="high"))}, run18k("d.jsonl"),
                                 (":1: field 'harmful_level': expected an integer",), "d.jsonl"),
    "18k-jsonl-level-bool": Case({"d.jsonl": jsonl(row(harmful_level=True))}, run18k("d.jsonl"),
                                 (":1: field 'harmful_level'",), "d.jsonl"),
    "18k-jsonl-level-fraction": Case({"d.jsonl": jsonl(row(harmful_level=1.5))}, run18k("d.jsonl"),
                                     (":1: field 'harmful_level'",), "d.jsonl"),
    "18k-jsonl-principle-8": Case({"d.jsonl": jsonl(row(principle_index=8))}, run18k("d.jsonl"),
                                  (":1: field 'principle_index': 8 is out of range 0-7",), "d.jsonl"),
    "18k-jsonl-method-unknown": Case({"d.jsonl": jsonl(row(method="haiku"))}, run18k("d.jsonl"),
                                     (":1: field 'method': unknown method 'haiku'",), "d.jsonl"),
    "18k-jsonl-method-number": Case({"d.jsonl": jsonl(row(method=3))}, run18k("d.jsonl"), (":1: field 'method'",),
                                    "d.jsonl"),
    "18k-jsonl-prompt-empty": Case({"d.jsonl": jsonl(row(prompt="  "))}, run18k("d.jsonl"),
                                   (":1: field 'prompt': expected non-empty text",), "d.jsonl"),
    "18k-jsonl-prompt-number": Case({"d.jsonl": jsonl(row(prompt=42))}, run18k("d.jsonl"), (":1: field 'prompt'",),
                                    "d.jsonl"),
    "18k-jsonl-base-prompt-null": Case({"d.jsonl": jsonl(row(base_prompt=None))}, run18k("d.jsonl"),
                                       (":1: field 'base_prompt'",), "d.jsonl"),
    "18k-jsonl-lone-surrogate": Case({"d.jsonl": jsonl(ROW, json.dumps(ROW).replace(ROW["prompt"], "a \\ud800 b"))},
                                     run18k("d.jsonl"), (":2: field 'prompt': holds a lone UTF-16 surrogate",),
                                     "d.jsonl"),
    "18k-jsonl-lone-surrogate-in-key": Case({"d.jsonl": jsonl(json.dumps(ROW)[:-1] + ', "x\\udc00": 1}')},
                                            run18k("d.jsonl"), (":1: field 'x\\udc00': holds a lone UTF-16 surrogate",), "d.jsonl"),
    "18k-jsonl-10000-deep": Case({"d.jsonl": jsonl(ROW, json.dumps(ROW)[:-1] + ', "x": ' + "[" * 10_000 + "]" * 10_000 + "}")},
                                 run18k("d.jsonl"), (":2: not valid input: JSON nested too deeply",), "d.jsonl"),
    "18k-jsonl-not-utf8": Case({"d.jsonl": jsonl(ROW).encode() + b'{"prompt": "caf\xe9"}\n'}, run18k("d.jsonl"),
                               (":2: not UTF-8 text",), "d.jsonl"),
    "18k-jsonl-duplicate-id": Case({"d.jsonl": jsonl(row(id="a"), row(id="b"), row(id="a"))}, run18k("d.jsonl"),
                                   (":3: field 'id': duplicate id 'a', first on line 1",), "d.jsonl"),
    "18k-jsonl-missing-id": Case({"d.jsonl": jsonl(row(id="a"), ROW)}, run18k("d.jsonl"),
                                 (":2: field 'id': missing, while line 1 has an id",), "d.jsonl"),
    "18k-jsonl-empty": Case({"d.jsonl": ""}, run18k("d.jsonl"), ("file is empty",), "d.jsonl"),
    "18k-jsonl-blank-lines": Case({"d.jsonl": "\n  \n\n"}, run18k("d.jsonl"), ("file is empty",), "d.jsonl"),
    "18k-unknown-extension": Case({"d.txt": "hello"}, run18k("d.txt"), ("unknown file type '.txt'",), "d.txt"),
    "18k-missing-file": Case({}, run18k("absent.jsonl"), ("no such file",), "absent.jsonl"),
    "18k-directory": Case({"folder.jsonl/x": "x"}, run18k("folder.jsonl"), ("is a directory",), "folder.jsonl"),
    # -- CARES-18K CSV and parquet -----------------------------------------------------------------------
    "18k-csv-extra-values": Case({"d.csv": ",".join(ROW) + "\n" + ",".join(map(str, ROW.values())) + ",extra\n"},
                                 run18k("d.csv"), (":2: more values than header columns",), "d.csv"),
    "18k-csv-level-text": Case({"d.csv": ",".join(ROW) + "\n" + ",".join(str(v) for v in {**ROW, "harmful_level": "x"}.values()) + "\n"},
                               run18k("d.csv"), (":2: field 'harmful_level'",), "d.csv"),
    "18k-csv-missing-column": Case({"d.csv": "prompt,method\nhi,direct\n"}, run18k("d.csv"),
                                   (":2: field 'principle_index'",), "d.csv"),
    "18k-csv-not-utf8": Case({"d.csv": b"prompt,method\ncaf\xe9,direct\n"}, run18k("d.csv"), (":2: not UTF-8 text",),
                             "d.csv"),
    "18k-csv-header-only": Case({"d.csv": ",".join(ROW) + "\n"}, run18k("d.csv"), ("file is empty",), "d.csv"),
    "18k-csv-row-shorter-than-header": Case({"d.csv": ",".join(ROW) + "\n" + ",".join(map(str, list(ROW.values())[:3])) + "\n"},
                                            run18k("d.csv"), (":2: field",), "d.csv"),
    "18k-parquet-corrupt": Case({"d.parquet": b"PAR1 this is not parquet PAR1"}, run18k("d.parquet"),
                                ("not a readable parquet file",), "d.parquet"),
    # -- CARES-VQA question files ------------------------------------------------------------------------
    "vqa-missing-question": Case({"q.jsonl": jsonl({k: v for k, v in VQA_ROW.items() if k != "question"})},
                                 run_vqa("q.jsonl"), (":1:", "question"), "q.jsonl"),
    "vqa-unknown-answer-type": Case({"q.jsonl": jsonl({**VQA_ROW, "answer_type": "essay"})}, run_vqa("q.jsonl"),
                                    (":1: field 'answer_type'",), "q.jsonl"),
    "vqa-yesno-answer-maybe": Case({"q.jsonl": jsonl({**VQA_ROW, "answer": "maybe"})}, run_vqa("q.jsonl"),
                                   (":1: field 'answer'",), "q.jsonl"),
    "vqa-mc-answer-not-an-option": Case({"q.jsonl": jsonl({**VQA_ROW, "answer_type": "mc", "options": ["A:red", "B:blue"],
                                                           "answer": "C"})}, run_vqa("q.jsonl"), (":1: field 'answer'",),
                                        "q.jsonl"),
    "vqa-options-not-a-list": Case({"q.jsonl": jsonl({**VQA_ROW, "answer_type": "mc", "options": 7, "answer": "A"})},
                                   run_vqa("q.jsonl"), (":1: field 'options'",), "q.jsonl"),
    "vqa-duplicate-id": Case({"q.jsonl": jsonl(VQA_ROW, VQA_ROW)}, run_vqa("q.jsonl"),
                             (":2: field 'id': duplicate id", "first on line 1"), "q.jsonl"),
    "vqa-broken-json": Case({"q.jsonl": jsonl(VQA_ROW, "{nope")}, run_vqa("q.jsonl"), (":2: not valid JSON",), "q.jsonl"),
    "vqa-lone-surrogate": Case({"q.jsonl": jsonl(json.dumps(VQA_ROW).replace("fracture", "fr\\udfffacture"))},
                               run_vqa("q.jsonl"), (":1: field 'question': holds a lone UTF-16 surrogate",), "q.jsonl"),
    "vqa-10000-deep": Case({"q.jsonl": jsonl("[" * 10_000 + "]" * 10_000)}, run_vqa("q.jsonl"),
                           (":1: not valid input: JSON nested too deeply",), "q.jsonl"),
    "vqa-missing-file": Case({}, run_vqa("absent.jsonl"), ("no such file",), "absent.jsonl"),
    "vqa-unknown-source": Case({"q.jsonl": jsonl(VQA_ROW)},
                               ("run", "cares-vqa", "--model", "baseline/refuse", "--data", "nosuch={tmp}/q.jsonl",
                                "--run-dir", "{run}", "--no-progress"), ("nosuch",)),
    # -- judge files ------------------------------------------------------------------------------------
    "validate-missing-label": Case({"l.jsonl": jsonl({k: v for k, v in PAIR.items() if k != "human"})},
                                   ("judge", "validate", "{tmp}/l.jsonl", "--judge", "rules"),
                                   (":1: field 'human'",), "l.jsonl"),
    "validate-unknown-label": Case({"l.jsonl": jsonl(PAIR, {**PAIR, "id": "p2", "human": "maybe"})},
                                   ("judge", "validate", "{tmp}/l.jsonl", "--judge", "rules"),
                                   (":2: field 'human': expected one of accept, caution, refuse",), "l.jsonl"),
    "validate-duplicate-id": Case({"l.jsonl": jsonl(PAIR, PAIR)}, ("judge", "validate", "{tmp}/l.jsonl", "--judge", "rules"),
                                  (":2: field 'id': duplicate id 'p1'",), "l.jsonl"),
    "validate-missing-prompt": Case({"l.jsonl": jsonl({k: v for k, v in PAIR.items() if k != "prompt"})},
                                    ("judge", "validate", "{tmp}/l.jsonl", "--judge", "rules"),
                                    (":1: field 'prompt'",), "l.jsonl"),
    "validate-broken-json": Case({"l.jsonl": "{\n"}, ("judge", "validate", "{tmp}/l.jsonl", "--judge", "rules"),
                                 (":1: not valid JSON",), "l.jsonl"),
    "validate-lone-surrogate": Case({"l.jsonl": jsonl(json.dumps(PAIR).replace("Take", "T\\ud801ake"))},
                                    ("judge", "validate", "{tmp}/l.jsonl", "--judge", "rules"),
                                    (":1: field 'response': holds a lone UTF-16 surrogate",), "l.jsonl"),
    "judge-pairs-response-number": Case({"p.jsonl": jsonl({**PAIR, "response": 5})},
                                        ("judge", "--judge", "rules", "--input", "{tmp}/p.jsonl", "--output",
                                         "{tmp}/out.jsonl"), (":1: field 'response'",), "p.jsonl"),
    "judge-pairs-missing-id": Case({"p.jsonl": jsonl({k: v for k, v in PAIR.items() if k != "id"})},
                                   ("judge", "--judge", "rules", "--input", "{tmp}/p.jsonl", "--output", "{tmp}/o.jsonl"),
                                   (":1: field 'id'",), "p.jsonl"),
    "judge-calibration-not-json": Case({"d.jsonl": jsonl(*make_rows((0, 3))), "cal.json": "{not json"},
                                       run18k("d.jsonl", "--judge-calibration", "{tmp}/cal.json"), (), "cal.json"),
    "judge-template-missing-placeholders": Case({"d.jsonl": jsonl(*make_rows((0, 3))), "t.txt": "Judge this."},
                                                run18k("d.jsonl", "--judge", "llm/openai/j", "--judge-base-url",
                                                       "http://127.0.0.1:9/v1", "--judge-template", "{tmp}/t.txt"),
                                                (), "t.txt"),
    "judge-template-not-utf8": Case({"d.jsonl": jsonl(*make_rows((0, 3))), "t.txt": b"{prompt} {response} \xff"},
                                    run18k("d.jsonl", "--judge", "llm/openai/j", "--judge-base-url",
                                           "http://127.0.0.1:9/v1", "--judge-template", "{tmp}/t.txt"), (), "t.txt"),
    "guard-detect-lone-surrogate": Case({"p.jsonl": '{"prompt": "a \\ud800"}\n'},
                                        ("guard", "detect", "--input", "{tmp}/p.jsonl", "--output", "{tmp}/s.jsonl"),
                                        (":1: field 'prompt': holds a lone UTF-16 surrogate",), "p.jsonl"),
    "guard-detect-broken-json": Case({"p.jsonl": '{"prompt": "abc\n'},
                                     ("guard", "detect", "--input", "{tmp}/p.jsonl", "--output", "{tmp}/s.jsonl"),
                                     (":1: not valid JSON (Unterminated string at column 12)",), "p.jsonl"),
    # -- option values ----------------------------------------------------------------------------------
    "opt-temperature-nan": options("--temperature", "nan"),
    "opt-temperature-inf": options("--temperature", "inf"),
    "opt-temperature-negative": options("--temperature", "-1"),
    "opt-temperature-text": options("--temperature", "warm"),
    "opt-timeout-zero": options("--timeout", "0"),
    "opt-timeout-negative": options("--timeout", "-5"),
    "opt-base-url-not-a-url": options("--base-url", "not-a-url"),
    "opt-base-url-ftp": options("--base-url", "ftp://example.org/v1"),
    "opt-judge-base-url": options("--judge", "llm/openai/j", "--judge-base-url", "localhost:8000"),
    "opt-top-p-two": options("--top-p", "2"),
    "opt-max-tokens-zero": options("--max-tokens", "0"),
    "opt-concurrency-zero": options("--concurrency", "0"),
    "opt-max-attempts-zero": options("--max-attempts", "0"),
    "opt-retry-base-nan": options("--retry-base", "nan"),
    "opt-seed-negative": options("--seed", "-1"),
    "opt-bootstrap-negative": options("--bootstrap", "-1"),
    "opt-limit-zero": options("--limit", "0"),
    "opt-sample-zero": options("--sample", "0"),
    "opt-level-5": options("--level", "5"),
    "opt-principle-9": options("--principle", "9"),
    "opt-method-haiku": options("--method", "haiku"),
    "opt-guard-threshold-2": Case({"d.jsonl": jsonl(*make_rows((0, 3)))},
                                  ("run", "cares-18k", "--model", "guard/baseline/refuse", "--data", "{tmp}/d.jsonl",
                                   "--run-dir", "{run}", "--guard-threshold", "2")),
    "opt-unknown-option": options("--bogus"),
    "opt-unknown-provider": Case({"d.jsonl": jsonl(*make_rows((0, 3)))},
                                 ("run", "cares-18k", "--model", "nope/x", "--data", "{tmp}/d.jsonl", "--run-dir", "{run}")),
    "opt-system-prompt-missing-file": options("--system-prompt", "@{tmp}/absent.txt"),
    "opt-system-prompt-not-utf8": Case({"d.jsonl": jsonl(*make_rows((0, 3))), "s.txt": b"be kind \xff"},
                                       run18k("d.jsonl", "--system-prompt", "@{tmp}/s.txt"), (), "s.txt"),
    "opt-run-dir-is-a-file": Case({"d.jsonl": jsonl(*make_rows((0, 3))), "afile": "x"},
                                  ("run", "cares-18k", "--model", "baseline/refuse", "--data", "{tmp}/d.jsonl",
                                   "--run-dir", "{tmp}/afile/run", "--no-progress"), (), "afile"),
    "opt-noise-sigma-nan": Case({"q.jsonl": jsonl(VQA_ROW), "x.png": b""}, run_vqa("q.jsonl", "--noise-sigma", "nan"),
                                ("--noise-sigma nan",)),
    "opt-guard-serve-client-timeout-zero": Case({}, ("guard", "serve", "--upstream", "http://127.0.0.1:9/v1", "--no-auth",
                                                     "--client-timeout", "0"), ("--client-timeout",)),
    "opt-guard-serve-port": Case({}, ("guard", "serve", "--upstream", "http://127.0.0.1:9/v1", "--no-auth", "--port",
                                      "70000"), ("--port",)),
    "opt-guard-serve-upstream-ftp": Case({}, ("guard", "serve", "--upstream", "ftp://x/v1", "--no-auth"), ("--upstream",)),
}


# -- damaged run stores --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("finished")
    (root / "d.jsonl").write_text(jsonl(*make_rows((0, 1, 2, 3))))
    assert main(["run", "cares-18k", "--model", "baseline/refuse", "--data", str(root / "d.jsonl"), "--run-dir",
                 str(root / "run"), "--no-progress"]) == 0
    return root / "run"


def garble_header(run_dir: Path) -> None:
    store = run_dir / "run.sqlite"
    store.write_bytes(b"definitely not sqlite" + store.read_bytes()[21:])


def garble_pages(run_dir: Path) -> None:
    store = run_dir / "run.sqlite"
    data = bytearray(store.read_bytes())
    for index in range(4096, len(data), 7):
        data[index] = 0x55
    store.write_bytes(bytes(data))


def store_case(command: str, damage: Callable[[Path], None], *expect: str, file: str = "run/run.sqlite") -> Case:
    argv = {"resume": ("resume", "{run}", "--no-progress"), "export": ("export", "{run}"), "show": ("show", "{run}"),
            "rescore": ("rescore", "{run}", "--judge", "rules", "--no-progress")}[command]
    return Case({}, argv, expect, file, prepare=damage)


CASES.update({
    "store-header-resume": store_case("resume", garble_header, "damaged run store"),
    "store-header-export": store_case("export", garble_header, "damaged run store"),
    "store-header-show": store_case("show", garble_header, "damaged run store"),
    "store-header-rescore": store_case("rescore", garble_header, "damaged run store"),
    "store-pages-resume": store_case("resume", garble_pages, "damaged run store"),
    "store-pages-export": store_case("export", garble_pages, "damaged run store"),
    "store-pages-show": store_case("show", garble_pages, "damaged run store"),
    "store-empty-file-resume": store_case("resume", lambda d: (d / "run.sqlite").write_bytes(b""), "no stored configuration",
                                          file="run"),
    "store-missing-resume": store_case("resume", lambda d: (d / "run.sqlite").unlink(), "not a cares run directory",
                                       file="run"),
    "store-results-json-broken-show": store_case("show", lambda d: (d / "results.json").write_text("{"), "not valid JSON",
                                                 file="run/results.json"),
})


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_naming_the_file_with_exit_2(name: str, tmp_path: Path, finished_run: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[name]
    for relative, content in case.files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    run_dir = tmp_path / "run"
    if case.prepare is not None:
        shutil.copytree(finished_run, run_dir)
        case.prepare(run_dir)
    argv = [arg.replace("{tmp}", str(tmp_path)).replace("{run}", str(run_dir)) for arg in case.argv]
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # the argument parser's own errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cares: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    if case.file is not None:
        assert str(tmp_path / case.file) in lines[0], err
    for expected in case.expect:
        assert expected in lines[0], err


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60

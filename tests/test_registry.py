"""The generic Registry: lazy built-ins, did-you-mean errors, duplicates, and plugins by entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cares import registry as reg
from cares.errors import ConfigError
from cares.judges import JUDGES, get_judge
from cares.models.registry import PROVIDERS, get_model, get_provider
from cares.registry import Registry
from cares.scorers.toxicity import make_toxicity_scorer
from cares.tasks import TASKS, get_task


def _double(x: int) -> int:
    return 2 * x


def _triple(x: int) -> int:
    return 3 * x


def test_register_lookup_and_mapping_view() -> None:
    things: Registry[object] = Registry("thing")
    things.register("double", _double, "twice", usage="double <n>")
    assert things.lookup("double") is _double and things["double"] is _double
    assert "double" in things and "triple" not in things and things.get("triple") is None
    assert list(things) == ["double"] and len(things) == 1
    assert things.describe() == {"double <n>": "twice"}
    with pytest.raises(KeyError):
        things["triple"]


def test_unknown_names_suggest_the_closest_in_one_line() -> None:
    things: Registry[object] = Registry("thing")
    things.register("double", _double)
    things.register("triple", _triple)
    with pytest.raises(ConfigError) as info:
        things.lookup("dubble", "dubble/7")
    assert str(info.value) == "unknown thing 'dubble' in 'dubble/7'; did you mean 'double'? (known: double, triple)"
    with pytest.raises(ConfigError, match=r"^unknown thing 'zzz' \(known: double, triple\)$"):
        things.lookup("zzz")


def test_a_name_registered_twice_by_different_code_is_an_error() -> None:
    things: Registry[object] = Registry("thing")
    things.register("double", _double)
    things.register("double", _double)  # the same module imported again: harmless
    with pytest.raises(ConfigError, match=r"thing 'double' is registered twice: by .*_double and by .*_triple"):
        things.register("double", _triple)


def test_override_restores_the_entry() -> None:
    things: Registry[object] = Registry("thing")
    things.register("double", _double, "twice")
    with things.override("double", _triple):
        assert things.lookup("double") is _triple
    assert things.lookup("double") is _double and things.describe() == {"double": "twice"}


def test_builtins_are_imported_only_when_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lazy_builtin_mod.py").write_text(
        "from tests.test_registry import LAZY\nLAZY.register('lazy', 42, 'loaded on demand')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "lazy_builtin_mod" not in sys.modules
    assert LAZY.lookup("lazy") == 42 and "lazy_builtin_mod" in sys.modules


LAZY: Registry[int] = Registry("lazy thing", {"lazy": "lazy_builtin_mod"})


@pytest.mark.parametrize("call,message", [
    (lambda: get_model("opnai/gpt-4o-mini"),
     "unknown model provider 'opnai' in 'opnai/gpt-4o-mini'; did you mean 'openai'?"),
    (lambda: get_task("cares-18"), "unknown benchmark 'cares-18'; did you mean 'cares-18k'?"),
    (lambda: get_judge("rule"), "unknown judge 'rule'; did you mean 'rules'?"),
    (lambda: get_judge("casade:llm/openai/x"),
     "unknown judge 'casade' in 'casade:llm/openai/x'; did you mean 'cascade'?"),
    (lambda: make_toxicity_scorer("perspectiv"), "unknown toxicity scorer 'perspectiv'; did you mean 'perspective'?"),
])
def test_each_registry_suggests(call: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        call()  # type: ignore[operator]
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_the_builtin_entries_are_all_there() -> None:
    assert {"openai", "baseline", "python", "hf", "guard"} <= set(PROVIDERS)
    assert {"cares-18k", "cares-vqa"} <= set(TASKS)
    assert {"rules", "llm", "cascade"} <= set(JUDGES)
    assert get_provider("guard/baseline/refuse") is PROVIDERS.lookup("baseline")
    assert not get_provider("baseline/refuse").takes_model_args and get_provider("hf/x").takes_model_args


def test_a_plugin_that_fails_to_load_is_logged_and_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[cares.plugins]\nbroken = no_such_module_for_cares\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg.reset_plugins()
    try:
        with caplog.at_level("WARNING", logger="cares.registry"):
            assert reg.load_plugins() == ["broken"]
        assert "cares plugin 'broken' (no_such_module_for_cares) failed to load: ModuleNotFoundError" in caplog.text
        assert reg.load_plugins() == []  # once per process
    finally:
        reg.reset_plugins()

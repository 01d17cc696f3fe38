"""Library messages reach the terminal through `logging`, at the level --log-level or -v sets."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from cares.cli.main import build_parser, configure_logging
from tests.conftest import CARES, cli_env


@pytest.fixture
def cares_logger() -> logging.Logger:
    logger = logging.getLogger("cares")
    level = logger.level
    yield logger
    logger.setLevel(level)


@pytest.mark.parametrize("level,shown", [
    ("debug", ["cares: debug: cares.test: detail", "cares: note: noted", "cares: warning: careful"]),
    ("info", ["cares: note: noted", "cares: warning: careful"]),
    ("warning", ["cares: warning: careful"]),
    ("error", []),
])
def test_levels_and_the_one_line_format(level: str, shown: list[str], cares_logger: logging.Logger,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level)
    log = logging.getLogger("cares.test")
    log.debug("detail")
    log.info("noted")
    log.warning("careful")
    assert capsys.readouterr().err.splitlines() == shown


def test_verbose_and_log_level_options() -> None:
    parser = build_parser()
    assert parser.parse_args(["-v", "list"]).verbose == 1
    assert parser.parse_args(["--log-level", "warning", "list"]).log_level == "warning"
    assert parser.parse_args(["list"]).log_level is None


def test_a_broken_plugin_is_a_warning_that_log_level_error_hides(tmp_path: Path) -> None:
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[cares.plugins]\nbroken = no_such_module_for_cares\n")
    env = cli_env(PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    shown = subprocess.run(CARES + ["list"], env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "benchmarks:" in shown.stdout
    assert shown.stderr.startswith("cares: warning: cares plugin 'broken' (no_such_module_for_cares) failed to load: "
                                   "ModuleNotFoundError"), shown.stderr
    quiet = subprocess.run(
        CARES + ["--log-level", "error", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert quiet.returncode == 0 and quiet.stderr == ""

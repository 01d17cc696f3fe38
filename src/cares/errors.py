"""Errors a user can act on. The CLI prints them as one line and exits 2, never a traceback."""

from __future__ import annotations

from pathlib import Path


class CaresError(Exception):
    """An error caused by the user's input or configuration, with a message that says what to fix."""

    exit_code = 2


class InputError(CaresError):
    """A problem in an input file, located by file, line (or row) and field."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        unit: str = "line",
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        where = self.path
        if line is not None:
            where += f":{line}" if unit == "line" else f" {unit} {line}"
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}")


class ConfigError(CaresError):
    """A bad command-line option, model spec or run-directory state."""


def unwritable(path: str | Path, exc: BaseException, what: str = "write") -> InputError:
    """The error for an output path that cannot be written, naming the cause a user can fix."""
    target = Path(path)
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                return InputError(target, f"cannot {what}: {parent} is a file, not a folder")
            break
    return InputError(target, f"cannot {what} ({getattr(exc, 'strerror', None) or exc})")

"""The self-contained HTML report: `cares report`, `cares compare --html` and `cares leaderboard --html`."""

from cares.report.html.page import build_report

__all__ = ["build_report"]

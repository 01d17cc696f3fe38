"""Keeping secrets out of messages that reach the run store, logs and the terminal."""

from __future__ import annotations

import re

# Below this length a key is also a common word or part of one ("x" in "Expecting"): only a whole
# token is taken for an echo of it. Longer keys are removed wherever they appear.
_ANYWHERE_FROM = 12


def redact(text: str, secret: str | None, replacement: str = "[redacted]") -> str:
    """`text` with `secret` replaced: anywhere for a real key, as a whole token (not inside a longer
    run of letters and digits) for a short one."""
    if not secret:
        return text
    if len(secret) >= _ANYWHERE_FROM:
        return text.replace(secret, replacement)
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", replacement, text)

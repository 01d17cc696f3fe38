"""Who may use the guarding proxy: bearer tokens for its clients, and the key it sends upstream.

Only SHA-256 digests of the client tokens are kept once they are loaded, and a presented token
is compared against every one of them in constant time, so neither the tokens nor which of them
matched can be read back from the process or from response timing.
"""

from __future__ import annotations

import hashlib
import hmac
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cares.errors import ConfigError, InputError

TOKEN_ENV = "CARES_GUARD_TOKEN"
DEFAULT_UPSTREAM_KEY_ENV = "OPENAI_API_KEY"
SHORT_TOKEN_CHARS = 16  # below this a token can be guessed by a patient attacker


@dataclass(frozen=True)
class ClientTokens:
    digests: tuple[bytes, ...]

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> ClientTokens:
        return cls(tuple(_digest(token) for token in tokens))

    def __len__(self) -> int:
        return len(self.digests)

    def allows(self, presented: str | None) -> bool:
        if presented is None or not self.digests:
            return False
        candidate = _digest(presented)
        matched = False
        for digest in self.digests:  # no early exit: every stored digest is compared every time
            matched |= hmac.compare_digest(candidate, digest)
        return matched


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when absent or another scheme."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def tokens_from_env(environ: Mapping[str, str]) -> list[str]:
    return [item.strip() for item in environ.get(TOKEN_ENV, "").split(",") if item.strip()]


def read_text_file(path: Path, what: str) -> str:
    """A small UTF-8 file given on the command line, with one-line errors naming it and its role."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, f"{what} not found") from None
    except UnicodeDecodeError:
        raise InputError(path, f"{what} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(path, f"cannot read {what}: {exc.strerror}") from None


def tokens_from_file(path: Path) -> list[str]:
    """One token a line; blank lines and lines starting with '#' are skipped."""
    text = read_text_file(path, "token file")
    tokens = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if any(ch.isspace() for ch in line):
            raise InputError(path, "a token may not contain spaces (one token a line)", line=number)
        tokens.append(line)
    if not tokens:
        raise InputError(path, "token file holds no token")
    return tokens


def token_file_warnings(path: Path) -> list[str]:
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [f"token file {path} is readable by other users; consider chmod 600"]
    return []


def load_client_tokens(
    token_file: Path | None, environ: Mapping[str, str], *, allow_none: bool
) -> tuple[ClientTokens, list[str]]:
    """Tokens from the environment and the token file together, and warnings worth printing."""
    tokens = tokens_from_env(environ)
    warnings: list[str] = []
    if token_file is not None:
        tokens += tokens_from_file(token_file)
        warnings += token_file_warnings(token_file)
    if not tokens and not allow_none:
        raise ConfigError(
            f"no client token: set {TOKEN_ENV} (comma-separated tokens) or pass --token-file, "
            "or pass --no-auth to serve without authentication"
        )
    if any(len(token) < SHORT_TOKEN_CHARS for token in tokens):
        warnings.append(f"a client token is shorter than {SHORT_TOKEN_CHARS} characters; use long random tokens")
    return ClientTokens.from_tokens(tokens), warnings


def upstream_key(key_env: str | None, environ: Mapping[str, str]) -> str | None:
    """The upstream API key. A named variable must be set; the default one is used only if set."""
    if key_env is None:
        return environ.get(DEFAULT_UPSTREAM_KEY_ENV) or None
    value = environ.get(key_env)
    if not value:
        raise ConfigError(f"--upstream-key-env {key_env}: that environment variable is not set or empty")
    return value

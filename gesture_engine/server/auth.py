"""Bearer tokens with scopes, from a file or an environment variable, compared in constant time.

A token line is ``name:scope,scope:token`` (``#`` starts a comment); the scopes are ``decide`` (decisions,
explain, the policy, schemas, goodwill and spend), ``approve`` (approve and release reservations) and
``issue`` (record goodwill given). Tokens are kept only as SHA-256 digests and every presented token is
compared with every known one by ``hmac.compare_digest``, so neither timing nor a memory dump tells a
token; only the token's ``name`` is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

SCOPES = ("decide", "approve", "issue")
MIN_TOKEN_LENGTH = 16
"""Shorter tokens are refused when loading: they could be guessed."""
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class TokenError(ValueError):
    """A token file or variable that cannot be used; the message never shows a token."""


@dataclass(frozen=True)
class Caller:
    """Who a request comes from: the token's name and its scopes."""

    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Tokens:
    """The known tokens, as digests."""

    entries: tuple[tuple[bytes, Caller], ...]

    def caller(self, presented: str) -> Caller | None:
        """The caller whose token is ``presented``, or None. Every entry is compared, match or not."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found: Caller | None = None
        for known, caller in self.entries:
            if hmac.compare_digest(digest, known):
                found = caller
        return found


def parse_tokens(text: str, source: str) -> Tokens:
    """Tokens from lines of ``name:scope,scope:token``; TokenError names the line at fault, never the token."""
    entries: list[tuple[bytes, Caller]] = []
    names: set[str] = set()
    for number, raw in enumerate(re.split(r"[\n;]", text), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(":", 2)
        if len(parts) != 3:
            raise TokenError(f"{source}: entry {number}: expected name:scope,scope:token")
        name, scopes_text, token = (part.strip() for part in parts)
        scopes = frozenset(scope.strip() for scope in scopes_text.split(",") if scope.strip())
        if not _NAME.match(name) or name in names:
            raise TokenError(f"{source}: entry {number}: the name must be 1-64 letters, digits or ._@- and unique")
        if not scopes or not scopes <= set(SCOPES):
            raise TokenError(f"{source}: entry {number}: scopes must be among {', '.join(SCOPES)}")
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
            raise TokenError(f"{source}: entry {number}: a token has at least {MIN_TOKEN_LENGTH} characters and no spaces")
        names.add(name)
        entries.append((hashlib.sha256(token.encode()).digest(), Caller(name, scopes)))
    if not entries:
        raise TokenError(f"{source}: no tokens")
    return Tokens(tuple(entries))


def load_tokens(path: str | None, env_var: str = "GESTURE_TOKENS") -> Tokens | None:
    """Tokens from ``path`` if given, else from the environment variable (None when neither is set)."""
    if path is not None:
        try:
            return parse_tokens(Path(path).read_text(encoding="utf-8"), os.fspath(path))
        except OSError as error:
            raise TokenError(f"cannot read token file {path}: {error.strerror or error}") from None
    text = os.environ.get(env_var)
    return parse_tokens(text, f"${env_var}") if text else None

"""Credentials out of everything written: URLs in logs, wire-log file names, support bundles.

A password may hold `@`, `:`, `/` or quotes, encoded or not, so the credentials are everything
between `scheme://` and the last `@` of the address, whatever they contain; query options that
carry secrets are masked too. Home folders are shown as `~` (a support bundle leaves the house).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MASK = "***"
SECRET_OPTIONS = ("password", "pass", "passwd", "token", "secret", "psk", "pin")
_SPACES = re.compile(r"(\s+)")
_OPTION = re.compile(r"(?P<key>[?&](?:" + "|".join(SECRET_OPTIONS) + r")=)[^&#\s\"']*",
                     re.IGNORECASE)


def redact_url(url: str) -> str:
    """A URL as it may be written anywhere: `mqtt://***@host:1883`. Everything before the last
    `@` is taken as credentials (a password may hold `?`, `#` or `/`): over-masking is safe."""
    scheme, sep, rest = url.partition("://")
    if sep:
        at = rest.rfind("@")
        if at >= 0:
            rest = MASK + rest[at:]
        url = f"{scheme}{sep}{rest}"
    return _OPTION.sub(lambda m: m["key"] + MASK, url)


def redact_text(text: str) -> str:
    """Every URL's credentials in free text (a log line, a JSON record) masked, and the home
    folder shown as `~`. Word by word (split at whitespace), so time stays linear."""
    if "://" in text and "@" in text:
        text = "".join(_redact_word(w) if "://" in w and "@" in w else w
                       for w in _SPACES.split(text))
    if "=" in text:
        text = _OPTION.sub(lambda m: m["key"] + MASK, text)
    return home_as_tilde(text)


def _redact_word(word: str) -> str:
    """In one whitespace-free stretch: from each `scheme://` to the last `@` after it."""
    out, i = [], 0
    while True:
        j = word.find("://", i)
        at = word.rfind("@", j + 3) if j >= 0 else -1
        if j < 0 or at < 0:
            out.append(word[i:])
            return "".join(out)
        out.append(word[i:j + 3] + MASK)
        i = at


def home_as_tilde(text: str) -> str:
    home = _home()
    if home and home != "/" and home in text:
        text = re.sub(re.escape(home) + r"(?=[/\\\s\"']|$)", "~", text)
    return text


def safe_name(text: str, limit: int = 60) -> str:
    """A redacted URL as a piece of a file name: no credentials, no separators."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", redact_url(text)).strip("_")[:limit] or "link"


def _home() -> str:
    try:
        return str(Path(os.environ.get("HOME") or Path.home()))
    except (RuntimeError, KeyError):
        return ""

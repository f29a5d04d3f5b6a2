"""The options of a `vitruvian://sim?...` URL, parsed strictly (the names and meanings are in
sim/vitruvian_unit.py's docstring).

Apart from the GATT server so that a URL is checked, and its ValueError raised, before any
trainer is built or any Bluetooth stack is touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_DIGITS = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class TrainerOptions:
    seed: int = 1
    hang_read_after: int | None = None
    read_error_at: int | None = None
    self_deload_at: int | None = None
    drop_link_at: int | None = None
    legacy_reps: bool = False
    keep_weight: bool = True
    mtu: int = 23

    @classmethod
    def from_url(cls, url: str, seed: int | None = None) -> TrainerOptions:
        """The options in a `vitruvian://sim?...` URL; `seed`, if given, wins over the URL's."""
        values: dict[str, int] = {}
        for name, text in parse_qsl(urlsplit(url).query, keep_blank_values=True):
            if name not in cls.__dataclass_fields__:
                raise ValueError(f"{url}: unknown option {name!r} (allowed: "
                                 f"{', '.join(cls.__dataclass_fields__)})")
            if name in values:
                raise ValueError(f"{url}: option {name!r} given twice")
            if not _DIGITS.fullmatch(text):
                raise ValueError(f"{url}: {name}={text!r} is not a whole number "
                                 "(ASCII digits 0-9)")
            values[name] = int(text)
        for flag in ("legacy_reps", "keep_weight"):
            if values.get(flag, 0) not in (0, 1):
                raise ValueError(f"{url}: {flag} must be 0 or 1")
        if "read_error_at" in values and values["read_error_at"] < 1:
            raise ValueError(f"{url}: read_error_at counts from 1")
        if not 23 <= values.get("mtu", 23) <= 517:
            raise ValueError(f"{url}: mtu allowed 23-517")
        if seed is not None:
            values["seed"] = seed
        kw: dict[str, Any] = dict(values)
        for flag in ("legacy_reps", "keep_weight"):
            if flag in kw:
                kw[flag] = bool(kw[flag])
        return cls(**kw)

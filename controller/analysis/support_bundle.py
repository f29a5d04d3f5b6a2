"""What goes into a support bundle, and how: the state folder's logs, wire logs and flight
records copied into the archive redacted (URL credentials, home folders, secret-looking JSON
keys), a line at a time so memory stays bounded, with the plan, the history's text and the
versions. The command, and the parts that read the plan and the history database, are in
controller/surfaces/cli/support.py.
"""

from __future__ import annotations

import json
import platform
import re
import sys
import tarfile
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from controller.analysis.log_reader import MAX_LINE, JsonLogReader
from firmware_bridge.redact import redact_text

SECRET_KEYS = re.compile(r'("[^"]*(?:pass(?:word)?|secret|token|pin|scrypt|salt)[^"]*"\s*:\s*)'
                         r'(?:"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*)', re.I)
STAMPED = re.compile(r"\d{8}-\d{6}-\d{6}")
SPOOL = 8 * 1024 * 1024  # a member is built in memory up to this, on disk beyond


def redact(text: str) -> str:
    """URL credentials masked (whatever `@`, `:` or quotes the password holds), home folders
    as `~`, and the values of secret-looking JSON keys as ***."""
    return SECRET_KEYS.sub(r'\1"***"', redact_text(text))


def versions() -> dict[str, Any]:
    out: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("halfstep", "aiomqtt", "paho-mqtt", "bleak", "pyserial", "numpy", "pydantic",
                 "aiohttp", "structlog", "click"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _files(folder: Path, pattern: str) -> list[Path]:
    try:
        return sorted(p for p in folder.glob(pattern) if p.is_file())  # not a folder so named
    except OSError:
        return []


def fill_bundle(tar: tarfile.TarFile, state: Path, plan: str | None, info: dict[str, Any],
                history: str) -> None:
    """The archive's members: the state folder's logs, wire logs and flight records, the plan,
    history.txt and versions.json; what cannot be read is noted in `info["left_out"]`."""
    from firmware_bridge.wirelog import WireLogError, copy_redacted

    left_out: list[str] = info["left_out"]
    logs = _files(state / "logs", "*.jsonl")
    for p in logs:
        _add(tar, f"logs/{p.name}", _spooled_text(p, left_out))
    for i, p in enumerate(_files(state / "wire", "*.hswl"), 1):
        # Named by when it began: old names hold the link URL, credentials included.
        name = f"wire/{p.name[:22] if STAMPED.match(p.name) else i}.hswl"
        spool = tempfile.SpooledTemporaryFile(SPOOL)
        try:
            problem = copy_redacted(p, spool)  # old files have the link's credentials
        except (OSError, WireLogError) as e:
            left_out.append(f"{name}: {e}")
            spool.close()
            continue
        if problem:
            left_out.append(f"{name}: cut where reading stopped: {problem}")
        _add(tar, name, spool)
    for p in _files(state / "flight", "*.json"):
        _add(tar, f"flight/{p.name}", _spooled_text(p, left_out))
    if plan is not None:
        _add(tar, "config/plan.json", _spool(redact(plan).encode()))
    _add(tar, "history.txt", _spool(redact(history).encode()))
    if logs:
        unit = _unit(logs[-1])
        if unit:
            info["unit"] = unit
    _add(tar, "versions.json", _spool(json.dumps(info, indent=1).encode()))


def _spool(data: bytes) -> Any:
    spool = tempfile.SpooledTemporaryFile(SPOOL)
    spool.write(data)
    return spool


def _spooled_text(path: Path, left_out: list[str]) -> Any:
    """A text file redacted a line at a time into a spool (memory: one line and the spool's
    in-memory part); None, and a note, if it cannot be read."""
    spool = tempfile.SpooledTemporaryFile(SPOOL)
    try:
        with open(path, "rb") as f:
            carry = ""  # the unfinished last word of a line longer than one read
            while raw := f.readline(MAX_LINE):
                text, carry = _whole_words(carry + raw.decode("utf-8", "replace"))
                spool.write(redact(text).encode())
            spool.write(redact(carry).encode())
    except OSError as e:
        spool.close()
        left_out.append(f"{path.name}: {e.strerror or e}")
        return None
    return spool


def _whole_words(text: str) -> tuple[str, str]:
    """A piece of a line split by the read limit, cut after its last whitespace: a URL cut in
    two would escape redaction half in each piece. A run with no whitespace longer than a read
    that holds `://` is not shown at all (no URL is that long; memory stays bounded)."""
    if text.endswith("\n"):
        return text, ""
    cut = max(text.rfind(" "), text.rfind("\t"))
    if cut >= 0:
        return text[:cut + 1], text[cut + 1:]
    if len(text) <= MAX_LINE:
        return "", text
    return (f"***(a run of {len(text)} characters holding a URL, not shown)" if "://" in text
            else text), ""


def _add(tar: tarfile.TarFile, name: str, spool: Any) -> None:
    if spool is None:
        return
    with spool:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime = spool.tell(), int(time.time())
        spool.seek(0)
        tar.addfile(ti, spool)


def _unit(log: Path) -> dict[str, Any] | None:
    """The unit the last session talked to: the last line of the log naming its serial and
    firmware (lines that are not events are passed over)."""
    unit = None
    try:
        for e in JsonLogReader(log):
            serial, firmware = e.get("device_serial"), e.get("firmware")
            if isinstance(serial, str) and isinstance(firmware, str):
                unit = {"serial": serial, "firmware": firmware}
    except OSError:
        return None
    return unit

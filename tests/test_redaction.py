"""Credentials never written: wire-log names, metadata and records, JSON log lines, flight
records and support bundles hold no password of a link or broker URL, whatever `@`, `:` or
quotes it holds; home folders are shown as `~`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from controller.analysis.support_bundle import redact
from controller.core.logs import redact_event
from firmware_bridge.redact import redact_text, redact_url, safe_name
from firmware_bridge.wirelog import (
    CLOSE,
    HEAD,
    MAGIC,
    OPEN,
    RECORD,
    RecordingTransport,
    WireLogWriter,
    read_wire_log,
)
from tests.procs import HALFSTEP, Background

# (URL, the pieces of it that must never be written)
URLS = [("mqtt://user:p@ss@host:1883", ["p@ss"]),
        ('mqtts://u:p%40s"s@broker.lan', ["p%40s", 's"s', 's\\"s']),
        ("tcp://u:pa:ss/w@h:1?token=abc", ["pa:ss", "token=abc"]),
        ("mqtt://user:pa?ss@host", ["pa?ss"]),  # '?' is no query inside the credentials
        ("tcp://user:p@ss:w@127.0.0.1:9?password=x1y2", ["p@ss", "x1y2"])]
ALL_SECRETS = sorted({s for _, secrets in URLS for s in secrets})


def leaks(data: bytes | str) -> list[str]:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return [s for s in ALL_SECRETS if s in text]


@pytest.mark.parametrize("url,secrets", URLS, ids=[u for u, _ in URLS])
def test_every_way_a_url_is_written_masks_its_credentials(url, secrets):
    assert not leaks(redact_url(url)) and "***@" in redact_url(url)
    assert not leaks(safe_name(redact_url(url)))
    line = json.dumps({"event": "mqtt_connected", "broker": url, "note": f"via {url} ok"})
    assert not leaks(redact(line)) and json.loads(redact(line))["event"] == "mqtt_connected"
    event = redact_event(None, "info", {"event": "x", "url": url, "nested": {"u": [url]},
                                        "error": ConnectionError(f"{url}: refused")})
    assert not leaks(json.dumps(event, default=str))


def test_secret_json_values_are_masked_whatever_they_hold():
    text = json.dumps({"password": 'a"b@c', "pin": 2468, "mqtt_token": "t0k"})
    assert json.loads(redact(text)) == {"password": "***", "pin": "***", "mqtt_token": "***"}


def test_home_is_shown_as_tilde():
    home = str(Path.home())
    if home in ("", "/"):
        pytest.skip("no home folder to hide")
    event = redact_event(None, "info", {"event": "x", "folder": Path(home) / "state"})
    assert event["folder"] == "~/state"
    assert redact(f'{{"file": "{home}/plan.json"}}') == '{"file": "~/plan.json"}'


class _Link:
    url = "tcp://user:p@ss:w@127.0.0.1:9?password=x1y2"

    async def read(self) -> bytes:
        raise ConnectionError(f"{self.url}: peer closed")

    async def send(self, data: bytes) -> None:
        pass

    async def close(self) -> None:
        pass


def test_a_wire_log_of_a_credentialed_link_holds_no_credentials(tmp_path):
    writer = WireLogWriter(tmp_path, {"link": _Link.url})
    transport = RecordingTransport(_Link(), writer)
    with pytest.raises(ConnectionError):
        asyncio.run(transport.read())
    writer.close()
    (path,) = tmp_path.glob("*.hswl")
    assert not leaks(path.name) and not leaks(path.read_bytes())
    log = read_wire_log(path)
    assert log.meta["link"] == "tcp://***@127.0.0.1:9?password=***"
    assert [r.data.decode() for r in log.records] == [
        "tcp://***@127.0.0.1:9?password=***",
        "lost: tcp://***@127.0.0.1:9?password=*** peer closed"]  # the option's mask takes ':'


def hs(state: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*HALFSTEP, *args], capture_output=True, text=True, timeout=180,
                          cwd=cwd, env={**os.environ, "HALFSTEP_STATE_DIR": str(state)})


def assert_nothing_leaks(state: Path, bundle: Path) -> None:
    """No secret in a file name or file of the state folder, nor in a member of the bundle."""
    files = [p for p in state.rglob("*") if p.is_file()]
    assert files
    for p in files:
        assert not leaks(str(p.relative_to(state))), p
        if not p.name.endswith(".tar.gz"):
            assert not leaks(p.read_bytes()), (p, leaks(p.read_bytes()))
    with tarfile.open(bundle) as tar:
        for m in tar.getmembers():
            assert not leaks(m.name), m.name
            data = tar.extractfile(m).read()  # type: ignore[union-attr]
            assert not leaks(data), (m.name, leaks(data))


def test_a_session_with_a_credentialed_broker_writes_no_password(tmp_path):
    """A real `halfstep run` whose broker URL holds a password (with an `@`) that cannot be
    reached: stopped once the broker has been written about (a session takes minutes)."""
    state = tmp_path / "state"
    assert hs(state, "plan", "init", "--profile", "pain", "--file",
              str(tmp_path / "plan.json")).returncode == 0
    url = "mqtt://user:p@ss@127.0.0.1:1"
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        proc = subprocess.Popen([*HALFSTEP, "run", "--speed", "20", "--no-panel", "--pain", "1",
                                 "--yes", "--file", str(tmp_path / "plan.json"), "--db",
                                 str(tmp_path / "h.sqlite"), "--mqtt", url], stdout=out,
                                stderr=err, env={**os.environ, "HALFSTEP_STATE_DIR": str(state)})
        try:
            end = time.monotonic() + 60
            while time.monotonic() < end and not any(
                    "127.0.0.1:1" in p.read_text() for p in (state / "logs").glob("*.jsonl")):
                time.sleep(0.2)
            time.sleep(0.5)  # a few more lines, and a wire log
        finally:
            proc.terminate()
            proc.wait(10)
    shown = (tmp_path / "out").read_text() + (tmp_path / "err").read_text()
    assert "Traceback" not in shown and not leaks(shown)
    (log,) = (state / "logs").glob("*.jsonl")
    assert '"broker": "mqtt://***@127.0.0.1:1"' in log.read_text()  # written, masked
    bundle = tmp_path / "b.tgz"
    assert hs(state, "support", "bundle", "--out", str(bundle), "--plan",
              str(tmp_path / "plan.json")).returncode == 0
    assert_nothing_leaks(state, bundle)


def test_a_credentialed_device_link_writes_no_password(tmp_path):
    state = tmp_path / "state"
    sim = Background("sim", "serve", "--tcp", "127.0.0.1:0", "--seed", "2")
    try:
        port = sim.first_line().rsplit(":", 1)[1]
        url = f"tcp://user:p@ss:w@127.0.0.1:{port}?password=x1y2"
        r = hs(state, "device", "info", "--device", url)
    finally:
        sim.stop()
    assert r.returncode == 0, r.stderr
    assert not leaks(r.stderr)
    (wire,) = (state / "wire").glob("*.hswl")
    assert "127.0.0.1" in wire.name and "user" not in wire.name
    bundle = tmp_path / "b.tgz"
    assert hs(state, "support", "bundle", "--out", str(bundle)).returncode == 0
    assert_nothing_leaks(state, bundle)


def test_a_bundle_redacts_files_written_before_redaction(tmp_path):
    """Logs, wire logs and flight records of an older halfstep still hold credentials: the
    bundle takes them out (and shows the home folder as ~)."""
    url, home = _Link.url, str(Path.home())
    state = tmp_path / "state"
    for sub in ("logs", "wire", "flight"):
        (state / sub).mkdir(parents=True)
    (state / "logs" / "halfstep-20250101.jsonl").write_text(
        json.dumps({"event": "link_opened", "link": url, "file": f"{home}/plan.json",
                    "level": "info"}) + "\n")
    meta = json.dumps({"link": url}).encode()
    old = HEAD.pack(MAGIC, 1, len(meta)) + meta
    for kind, data in ((OPEN, url.encode()), (CLOSE, f"lost: {url} refused".encode())):
        old += RECORD.pack(kind, 1_780_000_000_000_000, 0, len(data)) + data
    (state / "wire" / "20250101-000000-000000-tcp_user_p_ss_w_127.0.0.1_9.hswl").write_bytes(old)
    (state / "flight" / "flight-20250101-000000-000000-x.json").write_text(
        json.dumps({"reason": "x", "at": "t", "events": [{"event": "e", "link": url}]}))
    bundle = tmp_path / "b.tgz"
    assert hs(state, "support", "bundle", "--out", str(bundle)).returncode == 0
    with tarfile.open(bundle) as tar:
        texts = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore
    assert "wire/20250101-000000-000000.hswl" in texts
    for name, data in texts.items():
        assert not leaks(name) and not leaks(data), (name, leaks(data))
    if home not in ("", "/"):
        assert home.encode() not in texts["logs/halfstep-20250101.jsonl"]
        assert b'"~/plan.json"' in texts["logs/halfstep-20250101.jsonl"]
    out = tmp_path / "copy.hswl"
    out.write_bytes(texts["wire/20250101-000000-000000.hswl"])
    copy = read_wire_log(out)
    assert copy.problem is None and copy.meta["link"] == "tcp://***@127.0.0.1:9?password=***"
    assert [r.kind for r in copy.records] == [OPEN, CLOSE]


def test_redaction_stays_linear_on_a_hostile_line(tmp_path):
    """A 1 MB run without spaces full of `scheme://` and `@` (a regex backtracked for minutes on
    such a line): every credential still masked, and the support bundle of it still made."""
    hostile = "a://u:pw@" * 120_000
    masked = redact_text(hostile)
    assert "u:pw" not in masked and masked.startswith("a://***@")
    assert redact_text(f"x {URLS[0][0]} y " * 50_000).count("mqtt://***@host:1883") == 50_000
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    (state / "logs" / "halfstep-20250101.jsonl").write_text(
        json.dumps({"event": "x", "payload": hostile}) + "\n")
    r = hs(state, "support", "bundle", "--out", str(tmp_path / "b.tgz"))
    assert r.returncode == 0, r.stderr
    with tarfile.open(tmp_path / "b.tgz") as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m)
            assert f is None or b"u:pw" not in f.read(), m.name

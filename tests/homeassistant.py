"""A real Home Assistant Core for the tests, as tests/mosquitto.py is a real broker.

Home Assistant 2025.4.4 (the newest the package index serves for it) needs Python 3.13, which
is not the project's Python: it gets its own virtualenv, installed once (about 5 minutes) and
kept between runs in a cache folder outside the checkout (`HALFSTEP_HA_VENV` to move it).
`scripts/test` starts that install in the background, beside the rest of the suite;
`python -m tests.homeassistant install` does it by hand.

`HomeAssistant(folder, venv)` runs `hass` on a free port with a minimal configuration (no
default_config: only what an MQTT device needs) and its MQTT integration logging at debug, so
a test can read which QoS each subscription got; it is onboarded and the MQTT integration added
through the same HTTP API the onboarding pages use.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.mosquitto import free_port

HA_VERSION = "2025.4.4"
# Installed with it so that a start never reaches for the network: the frontend (always
# loaded, and without it Home Assistant starts in recovery mode), paho (the MQTT client, asked
# for when the integration is added) and isal (else a warning on every HTTP response).
REQUIREMENTS = (f"homeassistant=={HA_VERSION}", "paho-mqtt==2.1.0", "isal==1.7.1",
                "home-assistant-frontend==20250411.0")
PYENV_VERSION = "3.13.0"
CONFIGURATION = """\
homeassistant:
  name: halfstep-test
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: DE
  language: en
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
websocket_api:
config:
onboarding:
logger:
  default: warning
  logs:
    homeassistant.components.mqtt: debug
"""


def venv_dir() -> Path:
    default = Path.home() / ".cache" / "halfstep" / f"homeassistant-{HA_VERSION}"
    return Path(os.environ.get("HALFSTEP_HA_VENV") or default)


def _marker(venv: Path) -> Path:
    return venv / ".halfstep-installed"


def python313() -> tuple[list[str], dict[str, str]] | None:
    """How to run Python 3.13 here (directly, or through pyenv), or None."""
    for extra in ({}, {"PYENV_VERSION": PYENV_VERSION}):
        env = {**os.environ, **extra}
        try:
            r = subprocess.run(["python3.13", "-c", "import sys; print(sys.version_info[:2])"],
                               env=env, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0 and r.stdout.strip() == "(3, 13)":
            return ["python3.13"], env
    return None


def installed() -> bool:
    return _marker(venv_dir()).exists()


def install(log: Any = None) -> Path:
    """The virtualenv, installed if it is not yet; two installs never run at once (a lock)."""
    venv = venv_dir()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _marker(venv).exists():
            return venv
        py = python313()
        if py is None:
            raise RuntimeError(f"Python 3.13 is not available (tried python3.13 and "
                               f"PYENV_VERSION={PYENV_VERSION} python3.13)")
        cmd, env = py
        shutil.rmtree(venv, ignore_errors=True)
        out = log or sys.stderr
        started = time.monotonic()
        subprocess.run([*cmd, "-m", "venv", str(venv)], env=env, check=True, stdout=out,
                       stderr=out)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check",
                        "--quiet", *REQUIREMENTS], check=True, stdout=out, stderr=out)
        _marker(venv).write_text(f"{' '.join(REQUIREMENTS)}\ninstalled in "
                                 f"{time.monotonic() - started:.0f} s\n")
        return venv


def require() -> Path:
    """The virtualenv for a test: installed now if needed; without Python 3.13 the test is
    skipped with the reason, or fails under CI=true."""
    if not installed() and python313() is None:
        why = (f"Home Assistant {HA_VERSION} needs Python 3.13 (python3.13, or pyenv with "
               f"{PYENV_VERSION})")
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return install()


class HomeAssistant:
    """One Home Assistant, its configuration in `folder`; start, stop and start again."""

    def __init__(self, folder: Path, venv: Path):
        self.config = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.venv = venv
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (folder / "configuration.yaml").write_text(CONFIGURATION.format(port=self.port))
        self.proc: subprocess.Popen | None = None
        self.token: str | None = None
        self.started_at = 0.0

    # ---- process ------------------------------------------------------------------------------

    def start(self) -> None:
        out = open(self.config / "hass.out", "ab")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen([str(self.venv / "bin" / "hass"), "-c", str(self.config),
                                      "--log-no-color"], stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()

    def stop(self, timeout: float = 60) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log_lines(self) -> list[str]:
        """Everything it logged, over every start (it renames the last log at each start)."""
        lines: list[str] = []
        for name in ("home-assistant.log.1", "home-assistant.log"):
            p = self.config / name
            if p.exists():
                lines += p.read_text(errors="replace").splitlines()
        return lines

    # ---- HTTP and websocket -----------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def wait_http(self, s: aiohttp.ClientSession, timeout: float = 180) -> float:
        """Until its HTTP API answers; seconds since the start."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"hass exited ({self.proc.returncode}):\n"
                                     + (self.config / "hass.out").read_text()[-3000:])
            log = self.config / "home-assistant.log"
            if log.exists() and "Activating recovery mode" in log.read_text(errors="replace"):
                raise AssertionError("Home Assistant started in recovery mode:\n"
                                     + "\n".join(x for x in self.log_lines() if "ERROR" in x))
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(f"{self.url}/api/onboarding") as r:
                    if r.status == 200:
                        return time.monotonic() - self.started_at
            await asyncio.sleep(0.2)
        raise AssertionError("Home Assistant's HTTP API never answered")

    async def onboard(self, s: aiohttp.ClientSession) -> None:
        """A user, then a long-lived token (it survives restarts)."""
        client_id = f"{self.url}/"
        async with s.post(f"{self.url}/api/onboarding/users", json={
                "client_id": client_id, "name": "Test", "username": "test",
                "password": "test-password", "language": "en"}) as r:
            assert r.status == 200, await r.text()
            code = (await r.json())["auth_code"]
        async with s.post(f"{self.url}/auth/token", data={
                "grant_type": "authorization_code", "code": code, "client_id": client_id}) as r:
            assert r.status == 200, await r.text()
            self.token = (await r.json())["access_token"]
        self.token = await self.ws(s, "auth/long_lived_access_token", client_name="pytest",
                                   lifespan=365)

    async def ws(self, s: aiohttp.ClientSession, kind: str, **kw: Any) -> Any:
        """One websocket command's result."""
        async with s.ws_connect(self.url.replace("http", "ws") + "/api/websocket") as ws:
            assert (await ws.receive_json())["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": self.token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            await ws.send_json({"id": 1, "type": kind, **kw})
            while True:
                msg = await ws.receive_json()
                if msg.get("id") == 1 and msg["type"] == "result":
                    assert msg["success"], msg
                    return msg["result"]

    async def add_mqtt(self, s: aiohttp.ClientSession, port: int) -> None:
        """The MQTT integration, through its config flow, pointed at the broker."""
        async with s.post(f"{self.url}/api/config/config_entries/flow", headers=self.headers(),
                          json={"handler": "mqtt", "show_advanced_options": False}) as r:
            flow = await r.json()
        assert flow.get("step_id") == "broker", flow
        async with s.post(f"{self.url}/api/config/config_entries/flow/{flow['flow_id']}",
                          headers=self.headers(),
                          json={"broker": "127.0.0.1", "port": port}) as r:
            done = await r.json()
        assert done["type"] == "create_entry", done
        await self.wait_mqtt_loaded(s)

    async def wait_mqtt_loaded(self, s: aiohttp.ClientSession, timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        entries: list[dict] = []
        while time.monotonic() < end:
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(f"{self.url}/api/config/config_entries/entry",
                                 params={"domain": "mqtt"}, headers=self.headers()) as r:
                    if r.status == 200:
                        entries = await r.json()
                        if entries and entries[0]["state"] == "loaded":
                            return
            await asyncio.sleep(0.2)
        raise AssertionError(f"the MQTT integration never loaded: {entries}")

    async def state(self, s: aiohttp.ClientSession, entity_id: str) -> dict | None:
        async with s.get(f"{self.url}/api/states/{entity_id}", headers=self.headers()) as r:
            return await r.json() if r.status == 200 else None

    async def wait_state(self, s: aiohttp.ClientSession, entity_id: str, ok: Any,
                         timeout: float = 90) -> dict:
        """Until the entity's state passes `ok` (a value, or a test on the state string)."""
        test = ok if callable(ok) else (lambda v: v == ok)
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            last = await self.state(s, entity_id)
            if last is not None and test(last["state"]):
                return last
            await asyncio.sleep(0.2)
        raise AssertionError(f"{entity_id}: never {ok!r}; last {json.dumps(last)}")

    async def call(self, s: aiohttp.ClientSession, domain: str, service: str,
                   **data: Any) -> tuple[int, str]:
        async with s.post(f"{self.url}/api/services/{domain}/{service}",
                          headers=self.headers(), json=data) as r:
            return r.status, await r.text()


MQTT_LOGGER = re.compile(r" (ERROR|WARNING) \(\w+\) \[homeassistant\.components\.mqtt[.\]]")
SUBSCRIBED = re.compile(r"\('([^']+)', (\d)\)")


def mqtt_complaints(lines: list[str]) -> list[str]:
    """ERROR and WARNING lines from the MQTT integration."""
    return [x for x in lines if MQTT_LOGGER.search(x)]


def subscriptions(lines: list[str], prefix: str) -> dict[str, set[int]]:
    """Topic -> the QoS values Home Assistant subscribed to it with (its debug log)."""
    out: dict[str, set[int]] = {}
    for x in lines:
        if "Subscribing" in x:
            for topic, qos in SUBSCRIBED.findall(x):
                if topic.startswith(prefix):
                    out.setdefault(topic, set()).add(int(qos))
    return out


if __name__ == "__main__":  # python -m tests.homeassistant install
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m tests.homeassistant install")
    if installed():
        sys.exit(0)
    if python313() is None:
        sys.exit("Python 3.13 is not available: the Home Assistant test will say so")
    venv_dir().parent.mkdir(parents=True, exist_ok=True)
    with open(venv_dir().parent / "install.log", "a") as fh:
        print(f"installing Home Assistant {HA_VERSION} into {install(fh)}")

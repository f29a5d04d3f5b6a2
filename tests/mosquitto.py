"""A real Mosquitto broker for the tests: started on a free port in a temporary folder, with
optional per-unit passwords, an ACL and TLS; stopped, killed and restarted on demand."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if os.access(p, os.X_OK)), None)


def require_mosquitto() -> str:
    path = mosquitto_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mosquitto is not installed (scripts/test installs the Debian package)")
        pytest.skip("mosquitto is not installed")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, folder: Path, *, users: dict[str, str] | None = None,
                 acl: str | None = None, tls: tuple[Path, Path] | None = None):
        self.exe = require_mosquitto()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        # Run as whoever runs the tests (as root, mosquitto would switch to its own user and
        # could not read this folder).
        lines = [f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1",
                 f"allow_anonymous {'false' if users else 'true'}",
                 "persistence true", f"persistence_location {folder}/",
                 "autosave_interval 1", "log_dest stderr", "log_type all"]
        if tls is not None:
            cert, key = tls
            lines += [f"certfile {cert}", f"keyfile {key}"]
        if users:
            pw = folder / "passwords"
            pw.write_text("")
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True,
                               capture_output=True)
            pw.chmod(0o600)
            lines.append(f"password_file {pw}")
        if acl is not None:
            (folder / "acl").write_text(acl)
            (folder / "acl").chmod(0o600)
            lines.append(f"acl_file {folder / 'acl'}")
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.log = folder / "mosquitto.log"

    def url(self, user: str | None = None, password: str | None = None, scheme: str = "mqtt",
            **query: object) -> str:
        auth = f"{user}:{password}@" if user else ""
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{scheme}://{auth}127.0.0.1:{self.port}" + (f"?{q}" if q else "")

    def start(self) -> Broker:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: a clean shutdown (state saved); SIGKILL: a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(signal.SIGKILL)

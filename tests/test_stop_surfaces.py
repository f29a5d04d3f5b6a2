"""STOP from the panel and from MQTT (as Home Assistant sends it), taken by `halfstep run --yes`:
the set ends with its reps kept, the rest before the next set is honoured in full, the person
is asked whether to go on, and only after that (handles docked and taken up again) does a load
come back. The simulated person here picks the handles up again 5 s after the STOP, far sooner
than the rest: a session that skipped the rest would load them at once."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request

import aiomqtt
import pytest

from controller.core.plan_file import save_plan
from controller.planning.planner import next_session
from tests.mosquitto import Broker
from tests.procs import Background
from tests.test_session import DAY, one_exercise_plan

SPEED = 10.0
UNIT = "hssim0000001"


def _stop(surface: str, where: str) -> None:
    if surface == "panel":
        req = urllib.request.Request(where + "api/stop", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        return

    async def publish() -> None:
        port = int(where)
        async with aiomqtt.Client("127.0.0.1", port) as c:
            await c.publish(f"halfstep/{UNIT}/cmd/stop", b"STOP", qos=1)

    asyncio.run(publish())


@pytest.mark.parametrize("surface", ["panel", "mqtt"])
def test_stop_from_a_surface_honours_the_rest_and_asks_before_loading_again(tmp_path,
                                                                             surface):
    plan = one_exercise_plan()
    rest_s = next_session(plan, DAY).items[0].rest_s
    save_plan(plan, tmp_path / "plan.json")
    args = ["run", "--file", str(tmp_path / "plan.json"), "--db", str(tmp_path / "h.sqlite"),
            "--today", DAY.isoformat(), "--speed", str(SPEED), "--pain", "2", "--yes",
            "--device", "sim://?seed=2&rest=5"]
    broker = None
    if surface == "mqtt":
        broker = Broker(tmp_path / "broker").start()
        args += ["--mqtt", broker.url(), "--no-panel"]
    else:
        args += ["--panel", "127.0.0.1:0"]
    proc = Background(*args)
    lines: list[tuple[float, str]] = []
    try:
        where = str(broker.port) if broker else ""
        if surface == "panel":
            first = proc.first_line()
            assert first.startswith("panel: http://"), first
            where = first.removeprefix("panel: ")
        deadline = time.monotonic() + 120
        stopped = False
        while time.monotonic() < deadline:
            line = proc.out.get(timeout=max(0.1, deadline - time.monotonic()))
            lines.append((time.monotonic(), line))
            if not stopped and re.match(r"\s+rep\s+3/", line):
                _stop(surface, where)
                stopped = True
            if re.match(r"\s+set 2 done", line) or line.startswith("session "):
                break
        assert proc.proc.wait(60) == 0, "\n".join(x for _, x in lines[-30:])
    finally:
        proc.stop()
        if broker is not None:
            broker.stop()
    text = [x for _, x in lines]
    done = next(t for t, x in lines if re.match(r"\s+set 1 done", x))
    assert f"(stopped from {surface})" in next(x for x in text if "set 1 done" in x)
    asked = next(i for i, x in enumerate(text) if x.startswith(f"Stopped from {surface}"))
    assert text[asked].endswith(": yes")
    set2 = next(i for i, x in enumerate(text) if x.strip().startswith("set 2:"))
    rep1 = next(t for t, x in lines[set2:] if re.match(r"\s+rep\s+1/", x))
    assert asked < set2
    # The next set's first rep (its load on) came no sooner than the full rest after the STOP.
    assert (rep1 - done) * SPEED >= rest_s * 0.95, (rep1 - done) * SPEED

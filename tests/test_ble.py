"""BLE without hardware: the simulated unit behind a real GATT server (bumble), the host through
the real BleakClient. The profile, whole sessions, lost notifications, and a dropped connection."""

from __future__ import annotations

import asyncio

from controller.core.history import History
from controller.core.session import SessionRunner
from controller.planning.planner import next_session
from controller.simulated.demo import sim_person
from firmware_bridge.client import DeviceClient
from firmware_bridge.clock import loop_factory
from firmware_bridge.gatt import PREFERRED_MTU, RX_UUID, SERVICE_UUID, TX_UUID
from tests.procs import run
from tests.test_session import DAY, ScriptedIO, one_exercise_plan


async def test_the_gatt_profile_as_bleak_sees_it():
    async with DeviceClient("ble://sim?seed=1") as dev:
        client = dev.transport.client
        service = client.services.get_service(SERVICE_UUID)
        assert service is not None
        rx = service.get_characteristic(RX_UUID)
        tx = service.get_characteristic(TX_UUID)
        assert {"write", "write-without-response"} <= set(rx.properties)
        assert "notify" in tx.properties
        assert client.mtu_size == PREFERRED_MTU  # any frame (<= 244 bytes) fits one write
        assert dev.info.serial == "HSSIM0000001"
        n0 = dev.transport.notifications
        loop = asyncio.get_running_loop()
        end = loop.time() + 20
        while dev.transport.notifications - n0 < 4 and loop.time() < end:
            await asyncio.sleep(0.02)
        assert dev.transport.notifications - n0 >= 4  # 100 Hz in 10-sample notifications


def session_over_ble(tmp_path, query: str, watch=None):
    plan = one_exercise_plan()
    url = f"ble://sim?seed=6&rest=30&{query}"
    io = ScriptedIO()

    async def main():
        from sim.ble_unit import _UNITS

        with History(tmp_path / "h.sqlite") as history:
            runner = SessionRunner(lambda: DeviceClient(url), plan, history, io, DAY,
                                   brief=sim_person(plan, 1))

            async def monitor():
                while True:
                    await asyncio.sleep(0.01)
                    ble = _UNITS.get(asyncio.get_running_loop(), {}).get(url)
                    if ble is not None and watch is not None:
                        watch(ble.unit, runner)

            task = asyncio.create_task(monitor())
            try:
                result = await runner.run()
            finally:
                task.cancel()
            return result, history.session(result.session_id)

    with asyncio.Runner(loop_factory=loop_factory(0)) as r:
        result, stored = r.run(main())
    return plan, result, stored, io


def test_a_session_over_ble_with_lost_notifications(tmp_path):
    plan, result, stored, _ = session_over_ble(tmp_path, "drop=0.05")
    planned = next_session(plan, DAY).items[0].sets
    assert result.status == "finished"
    assert len(stored["sets"]) == planned and all(s["full_reps"] > 0 for s in stored["sets"])


def test_a_dropped_ble_connection_mid_set_reconnects_and_keeps_the_reps(tmp_path):
    """The same deload, pause and no resume without re-arming as over serial."""
    state = {"prev": 0, "unarmed": 0, "dropped": None, "zero": None}

    def watch(unit, runner):
        t, target, applied = unit.now_us / 1e6, max(unit.targets), max(unit.applied_half_kg)
        if target > state["prev"] and not runner.supervisor.armed:
            state["unarmed"] += 1
        if state["dropped"] is None and unit.faults.disconnect_at_s is None:
            state["dropped"] = t
        if state["dropped"] is not None and state["zero"] is None and not applied:
            state["zero"] = t
        state["prev"] = target

    _plan, result, stored, io = session_over_ble(tmp_path, "disconnect_at=15", watch)
    assert state["unarmed"] == 0  # no load again until the person re-arms
    assert state["zero"] - state["dropped"] <= 0.5 + 7.0 / 30 + 0.1  # lease (or HELLO) + ramp
    kinds = [e["kind"] for e in stored["safety_events"]]
    assert "link_lost" in kinds and "reconnected" in kinds
    lost = [s for s in stored["sets"] if s["ended_by"] == "link lost"]
    assert len(lost) == 1 and lost[0]["reps"]
    assert result.status == "finished" and io.resumes == 1


def test_demo_over_ble_end_to_end():
    res = run("demo", "--speed", "0", "--device", "ble://sim?seed=7&reps=8,10,10,10&rest=60",
              timeout=180)
    assert res.returncode == 0, res.stderr
    assert "total: " in res.stdout and res.stdout.count(" seated row ") >= 4


def test_scan_lists_units_or_says_why_it_cannot():
    res = run("device", "scan", "--timeout", "2")
    assert "Traceback" not in res.stderr
    if res.returncode == 0:  # a machine with a Bluetooth adapter
        assert res.stdout.strip()
    else:  # none here: a clear message, exit 1
        assert res.returncode == 1 and "Bluetooth is not available here" in res.stderr


def test_a_real_address_without_a_unit_is_a_clear_error():
    res = run("device", "info", "--device", "ble://AA:BB:CC:DD:EE:FF", timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "Bluetooth is not available here" in res.stderr or "no unit" in res.stderr

"""What the simulated Vitruvian trainer does, apart from speaking GATT: it applies a program
(or an Echo set) to the simulated cables, counts reps up and down from cable A, calibrates the
range, moves the load by the progression, releases it at the rep target, deloads or drops the
link when an option says so, and builds the status word and the 26-byte sample.

Mixed into VitruvianSim (sim/vitruvian_unit.py), which owns the GATT server and the state these
read; apart so that the trainer's behaviour reads without the Bluetooth plumbing.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from sim import vitruvian_wire as w
from sim.physics import G

MIN_REP_MM = 150.0  # a rise (and fall) this long is a rep; picking the handles up is not
STILL_M_S = 0.005  # slower than this the cable has turned
WARNING_S = 0.5  # a self deload shows DELOAD_WARNING this long before DELOAD_OCCURRED
IDLE_OFF_S = 15 * 60  # the unit powers off (releases) after 15 minutes without GATT access
MAX_KG = 100.0
LAST_HOLD_S = 1.5  # at most this long the lifter holds the handles at the last rep's bottom


class TrainerLogic:
    """The trainer's program, rep counting and control loop (mixed into VitruvianSim)."""

    # ---- programs ---------------------------------------------------------------------------

    def _program(self, data: bytes) -> None:
        try:
            p = w.decode_program(data)
        except w.WireError as e:
            self.rejected.append((data, str(e)))
            return
        kg = p["target_kg_per_cable"]
        if not (math.isfinite(kg) and 0.0 <= kg <= MAX_KG):
            self.rejected.append((data, f"load {kg} kg per cable"))
            return
        if not math.isfinite(p["progression_kg_per_rep"]):
            self.rejected.append((data, "progression not a number"))
            return
        self.programs.append(p)
        if self.fault_light is not None:
            self.rejected.append((data, f"{self.fault_light} fault light: stop first"))
            return
        self._start_set(p, kg, p["rep_field"])

    def _echo(self, data: bytes) -> None:
        try:
            e = w.decode_echo(data)
        except w.WireError as err:
            self.rejected.append((data, str(err)))
            return
        self.echoes.append(e)
        if e["eccentric_pct"] > 150:
            self.fault_light = "red"
            self._release("echo eccentric above 150%")
            return
        # The isokinetic load is not modelled: the set runs with no load, counting reps.
        total = w.UNLIMITED if e["target_reps"] is None else e["warmup_reps"] + e["target_reps"]
        self._start_set({**e, "calibration_reps": e["warmup_reps"], "rep_field": total,
                         "progression_kg_per_rep": 0.0}, 0.0, total)

    def _start_set(self, p: dict[str, Any], kg: float, rep_field: int) -> None:
        self.program = p
        self.active = True
        self.kg = kg
        self.up = self.down = 0
        self.range_top_mm = self.range_bottom_mm = 0.0
        self._cal_tops, self._cal_bottoms = [], []
        self._phase = "bottom"
        a = self.unit.physics.state[0]
        self._low, self._low_t = a.position_mm, self.now_s
        self._clear_deload()
        self._set_load(kg)
        lifter = self.unit.lifter
        lifter.set_reps = self._default_reps if rep_field == w.UNLIMITED else (rep_field,)
        now = self.now_s
        o = self.options
        if o.self_deload_at is not None and not self._deload_spent:
            self._deload_due = now + o.self_deload_at
        if o.drop_link_at is not None and not self._drop_spent:
            self._drop_due = now + o.drop_link_at

    def _set_load(self, kg: float) -> None:
        self.unit.targets = [kg * 2, kg * 2]  # the SimUnit counts half kilograms
        self.unit._low_tension_us = 0

    def _release(self, cause: str) -> None:
        self.active = False
        self.kg = 0.0
        if any(self.unit.targets) or any(c.motor_kg > 0 for c in self.unit.physics.state):
            self._unloading = True
        self.unit.targets = [0, 0]
        self.releases.append((self.now_s, cause))

    def _clear_deload(self) -> None:
        self._deloaded = False
        self._warning_until = None

    # ---- what the trainer reports -----------------------------------------------------------

    def status(self) -> int:
        bits = 0
        now = self.now_s
        pos = self.unit.physics.state[0].position_mm
        if self.active and self.range_top_mm > self.range_bottom_mm:
            span = self.range_top_mm - self.range_bottom_mm
            band = max(30.0, 0.1 * span)
            safety = float(self.program.get("safety_mm_max", 80)) if self.program else 80.0
            if pos >= self.range_top_mm - band:
                bits |= w.TOP_READY
            if pos <= self.range_bottom_mm + band:
                bits |= w.BOTTOM_READY
            if pos > self.range_top_mm + safety:
                bits |= w.RANGE_HIGH
            if pos < self.range_bottom_mm - safety:
                bits |= w.RANGE_LOW
        if self._unloading:
            bits |= w.UNLOAD_ACTIVE
        if self._warning_until is not None and now < self._warning_until:
            bits |= w.DELOAD_WARNING
        elif self._deloaded:
            bits |= w.DELOAD_OCCURRED
        return bits

    def sample(self) -> bytes:
        """The 26-byte sample of the trainer's state now."""
        cables = [(c.position_mm, c.velocity_m_s * 1000.0, c.motor_kg)
                  for c in self.unit.physics.state]
        return w.encode_sample(self.unit.now_us // 1000, cables, self.status())

    # ---- the trainer's control loop (after every tick) ---------------------------------------

    async def flush(self) -> None:
        u = self.unit
        u.take_frames()  # our own protocol's output has no reader here
        now = self.now_s
        if self.active and not any(u.targets) and self.kg > 0:
            self._release("handles released")  # the unit underneath let go of the load
        if self.active:
            self._track(now)
        if self._unloading and not any(c.motor_kg > 0 for c in u.physics.state):
            self._unloading = False
        if self._deload_due is not None and now >= self._deload_due:
            self._deload_due, self._deload_spent = None, True
            self.self_deloads += 1
            self._release("self deload")
            self._deloaded = True
            self._warning_until = now + WARNING_S
        if now - self._last_access >= IDLE_OFF_S and (self.active or any(u.targets)):
            self.idle_power_offs += 1
            self._release("idle power off")
        while self._notify:
            payload = self._notify.pop(0)
            self.reps_sent.append(payload)
            if self.device.connections:
                await self.device.notify_subscribers(self.reps_char, payload)
        if self._drop_due is not None and now >= self._drop_due:
            self._drop_due, self._drop_spent = None, True
            self.link_drops += 1
            for connection in list(self.device.connections.values()):
                with contextlib.suppress(Exception):
                    await connection.disconnect()

    def _track(self, now: float) -> None:
        """Count reps from cable A: up when it turns at the top, down when it stops at the
        bottom; take the true concentric data of each rep on the way."""
        cables = self.unit.physics.state
        a = cables[0]
        pos, vel = a.position_mm, a.velocity_m_s
        if self._phase == "bottom":
            if pos <= self._low or abs(vel) <= STILL_M_S:  # the lowest point, or a rest
                self._low, self._low_t = pos, now
            elif pos - self._low >= MIN_REP_MM:
                self._phase, self._high = "rising", pos
                self._peak_v = self._peak_p = 0.0
                self._rep_kg = self.kg
        if self._phase == "rising":
            self._high = max(self._high, pos)
            self._peak_v = max(self._peak_v, vel)
            self._peak_p = max(self._peak_p, sum(c.motor_kg * G * c.velocity_m_s
                                                 for c in cables))
            if vel <= STILL_M_S:
                self._phase, self._top_t = "falling", now
                self.up += 1
                self._send_reps()
        elif self._phase == "falling":
            if vel >= -STILL_M_S and self._high - pos >= MIN_REP_MM:
                self._bottom(now, pos)

    def _bottom(self, now: float, pos: float) -> None:
        p = self.program
        assert p is not None
        self.down += 1
        cal = int(p["calibration_reps"])
        rom = self._high - self._low
        self.rep_log.append({
            "rep": self.down, "calibration": self.down <= cal,
            "working": max(0, self.down - cal), "start_s": self._low_t, "top_s": self._top_t,
            "bottom_s": now, "rom_mm": rom, "top_mm": self._high, "bottom_mm": pos,
            "mean_concentric_m_s": rom / 1000 / max(self._top_t - self._low_t, 1e-9),
            "peak_velocity_m_s": self._peak_v, "peak_power_w": self._peak_p,
            "load_kg_per_cable": self._rep_kg})
        if self.down <= cal:
            self._cal_tops.append(self._high)
            self._cal_bottoms.append(pos)
            if self.down == cal:
                self.range_top_mm = sum(self._cal_tops) / cal
                self.range_bottom_mm = sum(self._cal_bottoms) / cal
        self._phase, self._low, self._low_t = "bottom", pos, now
        rep_field = int(p["rep_field"])
        if rep_field != w.UNLIMITED and self.down >= rep_field:
            self._send_reps()
            self._release("rep target")
            return
        if self.down > cal and p["progression_kg_per_rep"] and self.kg > 0:
            self.kg = min(MAX_KG, max(0.0, self.kg + float(p["progression_kg_per_rep"])))
            self._set_load(self.kg)
        self._send_reps()

    def _send_reps(self) -> None:
        p = self.program or {}
        if self.options.legacy_reps:
            payload = w.encode_legacy_reps(self.up, self.down)
        else:
            cal = int(p.get("calibration_reps", 3))
            rep_field = int(p.get("rep_field", w.UNLIMITED))
            total = 0 if rep_field == w.UNLIMITED else rep_field - cal
            payload = w.encode_reps(self.up, self.down, self.range_top_mm, self.range_bottom_mm,
                                    min(self.down, cal), cal, max(0, self.down - cal), total)
        self._notify.append(payload)

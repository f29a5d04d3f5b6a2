"""The emulated firmware's load and its safety: the load each cable applies in the current
mode (constant, eccentric, chains, spotter), and when the unit takes it off by itself (the
host's lease expired, the handles let go) and reports the deload done.

Mixed into SimUnit (sim/firmware.py), whose tick() calls these every control period; apart
so that what makes the unit safe without a host reads in one place.
"""

from __future__ import annotations

from firmware_bridge.messages import Event, EventCode, FaultBits, Mode

# Modes that shape the setpoint (constant mode applies it as is).
_ECCENTRIC, _CHAINS, _SPOTTER = int(Mode.ECCENTRIC), int(Mode.CHAINS), int(Mode.SPOTTER)
_SHAPED = frozenset((_ECCENTRIC, _CHAINS, _SPOTTER))


class FirmwareSafety:
    """SimUnit's load modes and safe state (mixed into SimUnit)."""

    def _mode_loads(self, dt: float) -> list[float]:
        """The load (kg) each cable applies now: the ramped setpoint shaped by the mode."""
        mode, p1, p2, p3 = self.mode
        cap = self.config.max_load_half_kg / 2
        out = []
        if mode not in _SHAPED:  # constant: the setpoint as is (factor 1), the common case
            for sp in self.setpoints:  # a loop, not a comprehension: cheaper for 1-2 cables
                kg = sp / 2
                out.append(kg if kg < cap else cap)  # min(cap, kg)
            return out
        setpoints = self.setpoints
        for i, c in enumerate(self.physics.state):
            base = setpoints[i] / 2
            factor = 1.0
            if mode == _ECCENTRIC and c.velocity_m_s < -0.02:
                factor = p1 / 100  # heavier on the way back
            elif mode == _CHAINS:
                factor = 1 + p1 / 100 * min(1.0, c.position_mm / max(p2, 1))
            elif mode == _SPOTTER and i == 0:
                self._spot(dt, c.position_mm, c.velocity_m_s, base, p1, p2)
            if mode == _SPOTTER and self.spotting:
                factor = 1 - p3 / 100
            out.append(min(cap, base * factor))
        return out

    def _spot(self, dt: float, position_mm: float, velocity_m_s: float, base: float,
              stall_mm_s: int, stall_ms: int) -> None:
        """A stall part way up under load for long enough: take load off until the lowering."""
        if self.spotting:
            if velocity_m_s < -0.05:
                self.spotting = False
                self.log("spotter_released")
            return
        if base > 0 and position_mm > 100 and abs(velocity_m_s) * 1000 < stall_mm_s:
            self._stall_s += dt
            if self._stall_s * 1000 >= stall_ms:
                self.spotting = True
                self._stall_s = 0.0
                self.log("spotter_engaged", position_mm=round(position_mm))
        else:
            self._stall_s = 0.0

    def _lease_expired(self) -> None:
        self.lease_held = False
        self.lease_lost = True
        self.faults_bits |= FaultBits.LEASE_EXPIRED
        load = max(self.applied_half_kg)
        self._deload_all("lease_expired")
        self._emit(Event(self.now_us, EventCode.LEASE_EXPIRED, 0xFF, load))
        self.log("lease_expired", applied_kg=load / 2, lease_ms=self.config.lease_ms,
                 reason="no frame from the host within the lease")

    def _watch_handles(self) -> None:
        if not any(self.targets):  # nothing asked for: nothing to release
            self._low_tension_us = 0
            return
        cfg = self.config
        state = self.physics.state
        release_n = cfg.release_tension_n
        # Plain loops over the (one or two) cables: generator expressions cost more per tick.
        for c in state:
            if not c.tension_n < release_n:  # someone still pulls
                self._low_tension_us = 0
                return
        freefall = cfg.freefall_m_s
        falling = False
        for c in state:
            if c.velocity_m_s < freefall:
                falling = True
                break
        if self._low_tension_us == 0:
            self._low_tension_us = self.now_us
        held_for = self.now_us - self._low_tension_us
        if falling or held_for >= cfg.release_ms * 1000:
            load = max(self.applied_half_kg)
            self.faults_bits |= FaultBits.HANDLE_RELEASED
            self._deload_all("handle_released")
            self._emit(Event(self.now_us, EventCode.HANDLE_RELEASED, 0xFF, load))
            self.log("handle_released", applied_kg=load / 2, free_fall=falling,
                     low_tension_ms=held_for // 1000)
            self._low_tension_us = 0

    def _deload_all(self, cause: str) -> None:
        self.targets = [0] * self.config.cables
        if self._deload is None and any(self.applied_half_kg):
            self._deload = (cause, self.now_us)

    def _watch_deload(self) -> None:
        if self._deload is None or any(self.applied_half_kg):  # what telemetry reports
            return
        cause, since = self._deload
        ms = (self.now_us - since) // 1000
        self._deload = None
        if cause == "stop":
            self.stopping = False
            self._emit(Event(self.now_us, EventCode.STOPPED, 0xFF, ms))
            self.log("stopped", after_ms=ms)
        else:
            self._emit(Event(self.now_us, EventCode.DELOADED, 0xFF, ms))
            self.log("deloaded", cause=cause, after_ms=ms, applied_kg=0.0)

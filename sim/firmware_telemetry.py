"""The emulated firmware's output: telemetry samples (with their status bits: lease, handle
held, docked, ramping, deload) packed into batches, STATUS, and every frame the unit sends.

Mixed into SimUnit (sim/firmware.py); apart because the per-sample packing is the hot path of
every simulated trial and its byte layout is checked against `sample_dtype` here, on import.
"""

from __future__ import annotations

import struct

import numpy as np

from firmware_bridge.codec import encode
from firmware_bridge.messages import Message, SampleStatus, Status, Telemetry, sample_dtype

DOCK_MM = 20.0  # a cable further out than this is out of the dock (HANDLE_HELD may be set)
DOCKED_MM = 2.0  # ... and this close in, back in the dock (DOCKED)
PICKUP_M_S = -0.1  # HANDLE_HELD is taken only from a cable that is not reeling in faster
HELD_LOAD_KG = 2.0  # with this much applied, tension below the release level means let go


# Status bits as plain ints: IntFlag arithmetic per sample is slow.
_LEASE, _ESTOP, _DELOAD = (int(SampleStatus.LEASE_ACTIVE), int(SampleStatus.EMERGENCY_STOP),
                           int(SampleStatus.SAFETY_DELOAD))
_HELD, _DOCKED, _RAMPING = (int(SampleStatus.HANDLE_HELD), int(SampleStatus.DOCKED),
                            int(SampleStatus.RAMPING))


def _row_struct(n: int) -> struct.Struct:
    """One telemetry sample of n cables as struct packs it: dt_us, then each cable's position,
    velocity, tension, load and status. Packing rows with struct beats numpy converting tuples;
    checked against `sample_dtype(n)` here so the two layouts cannot drift apart."""
    s = struct.Struct("<I" + "HhHHH" * n)
    probe = tuple(range(1, 2 + 5 * n))
    cables = [probe[1 + 5 * k:6 + 5 * k] for k in range(n)]
    if s.pack(*probe) != np.array([(probe[0], cables)], dtype=sample_dtype(n)).tobytes():
        raise ImportError(f"the simulator's telemetry row differs from sample_dtype({n})")
    return s


_ROW_STRUCTS = {n: _row_struct(n) for n in (1, 2)}


class FirmwareTelemetry:
    """SimUnit's output: samples, STATUS and the frames to send (mixed into SimUnit)."""

    def _status(self) -> Status:
        left = max(0, (self._lease_deadline_us - self.now_us) // 1000) if self.lease_held else 0
        return Status(self.now_us, self.state, int(self.faults_bits), min(left, 0xFFFF),
                      tuple(self.targets), tuple(self.applied_half_kg))

    def _held_bit(self, i: int, pos: float, vel: float, tension: float, motor_kg: float) -> int:
        """HANDLE_HELD of cable i now (docs/protocol.md 4.2), latched so that it stays set
        through a whole set, lowering included, while someone pulls on the cable. Taken when
        the cable is out of the dock and not reeling in (with a load on it, only with tension);
        given up only on evidence that the handle was let go: the cable back at the dock,
        reeling in fast with no tension (free fall), or no tension for release_ms with a load
        applied."""
        cfg = self.config
        release_n = cfg.release_tension_n
        slack = self._slack_since_us
        if tension < release_n:
            if slack[i] < 0:
                slack[i] = self.now_us
        else:
            slack[i] = -1
        if not self._held[i]:  # under load, only a pull shows a hand on it
            if pos > DOCK_MM and vel >= PICKUP_M_S and (slack[i] < 0 or motor_kg < HELD_LOAD_KG):
                self._held[i] = True
        elif pos <= DOCK_MM or (slack[i] >= 0 and (
                vel < cfg.freefall_m_s or (motor_kg >= HELD_LOAD_KG and
                                           self.now_us - slack[i] >= cfg.release_ms * 1000))):
            self._held[i] = False
        return _HELD if self._held[i] else 0

    def _sample(self) -> None:
        if not self.lease_held:
            self._batch_n = 0
            self._rows = []
            held, slack = self._held, self._slack_since_us
            for i in range(len(held)):  # worked out afresh when a host holds the lease again
                held[i], slack[i] = False, -1
            return  # telemetry streams only to a host that holds the lease
        now_us = self.now_us
        if self._batch_n == 0:
            self._batch_t0 = now_us
            self._rows = []
        base = _LEASE
        if self.estop:
            base |= _ESTOP
        if self._deload is not None and self._deload[0] != "stop":
            base |= _DELOAD
        row = [now_us - self._batch_t0]  # flat: dt_us, then each cable's five fields
        stuck = self._stuck
        setpoints, targets = self.setpoints, self.targets
        for i, c in enumerate(self.physics.state):
            if stuck:
                pos, vel = stuck[i]
            else:
                pos, vel = c.position_mm, c.velocity_m_s
            bits = base | self._held_bit(i, pos, vel, c.tension_n, c.motor_kg)
            if pos <= DOCKED_MM:
                bits |= _DOCKED
            if setpoints[i] != targets[i]:
                bits |= _RAMPING
            # Clamp to the wire's ranges with comparisons: min()/max() calls cost more.
            pos_w = round(pos * 10)
            vel_w = round(vel * 1000)
            tension_w = round(c.tension_n * 10)
            row += (pos_w if pos_w < 65535 else 65535,
                    -32768 if vel_w < -32768 else vel_w if vel_w < 32767 else 32767,
                    tension_w if tension_w < 65535 else 65535,
                    round(c.motor_kg * 2), bits)
        # Rows are kept as Python ints and packed once per batch: numpy per sample is slow.
        self._rows.append(row)
        self._batch_n += 1
        if self._batch_n >= self.telemetry_batch:
            self._flush_batch()

    def _flush_batch(self) -> None:
        if self._batch_n and self._rows:
            n = self.config.cables
            # struct packs the rows to the wire layout faster than numpy converts tuples.
            pack = _ROW_STRUCTS[n].pack
            data = b"".join([pack(*row) for row in self._rows[: self._batch_n]])
            self._emit(Telemetry(self._batch_t0, n, np.frombuffer(data, sample_dtype(n))))
        self._batch_n = 0
        self._rows = []

    def _emit(self, msg: Message) -> None:
        self._seq = (self._seq + 1) & 0xFF
        frame = self.faults.apply(encode(msg, self._seq), msg.TYPE)
        if frame is not None:
            self._out.append(frame)

    def take_output(self) -> bytes:
        return b"".join(self.take_frames())

    def take_frames(self) -> list[bytes]:
        """What the unit has to send, frame by frame (a duplicated frame is one item)."""
        out, self._out = self._out, []
        return out

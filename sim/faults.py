"""Fault injection on the simulated unit: lost, corrupted, duplicated or delayed frames, a
dropped link, a reboot, a stuck position sensor.

Deterministic from a seed so a failing run can be repeated exactly. Frame faults apply to what
the unit sends; timed faults are in device seconds since boot.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from firmware_bridge.messages import MsgType


@dataclass
class FaultPlan:
    drop_acks: int = 0  # drop the next N ACK frames (the host must retry)
    drop_prob: float = 0.0  # probability of losing any frame
    corrupt_prob: float = 0.0  # probability of flipping one byte of a frame
    duplicate_prob: float = 0.0  # probability of sending a frame twice
    jitter_ms: float = 0.0  # each write is held back 0..jitter_ms (order kept)
    disconnect_at_s: float | None = None  # the link drops (once) at this device time
    reboot_at_s: float | None = None  # the unit reboots (once) at this device time
    stuck_sensor_at_s: float | None = None  # position/velocity freeze from this time on
    seed: int = 0
    dropped: int = 0
    corrupted: int = 0
    duplicated: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"faults-{self.seed}")

    def apply(self, frame: bytes, msg_type: int) -> bytes | None:
        """The bytes that leave the unit for this frame (possibly none, or twice)."""
        if msg_type == MsgType.ACK and self.drop_acks > 0:
            self.drop_acks -= 1
            self.dropped += 1
            return None
        if self.drop_prob and self._rng.random() < self.drop_prob:
            self.dropped += 1
            return None
        if self.corrupt_prob and self._rng.random() < self.corrupt_prob:
            b = bytearray(frame)
            i = self._rng.randrange(len(b))
            b[i] ^= 1 << self._rng.randrange(8)
            self.corrupted += 1
            frame = bytes(b)
        if self.duplicate_prob and self._rng.random() < self.duplicate_prob:
            self.duplicated += 1
            return frame + frame
        return frame

    def delay_s(self) -> float:
        return self._rng.uniform(0, self.jitter_ms) / 1000 if self.jitter_ms else 0.0

    def due(self, name: str, now_s: float) -> bool:
        """True once, when the timed fault `name` (e.g. "reboot") falls due."""
        at = getattr(self, f"{name}_at_s")
        if at is not None and now_s >= at:
            setattr(self, f"{name}_at_s", None)
            return True
        return False

"""Fault injection on what the simulated unit sends: lost ACKs, lost or corrupted frames.

Deterministic from a seed so a failing run can be repeated exactly.
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
    seed: int = 0
    dropped: int = 0
    corrupted: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"faults-{self.seed}")

    def apply(self, frame: bytes, msg_type: int) -> bytes | None:
        """The frame as it leaves the unit, or None if it is lost."""
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
            return bytes(b)
        return frame

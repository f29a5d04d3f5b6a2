"""Options of a simulated unit, from a `sim://?...` query or `halfstep sim serve` flags."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from firmware_bridge.loads import PLAIN_DECIMAL
from firmware_bridge.validation import describe
from sim.faults import FaultPlan
from sim.firmware import LogFn, SimUnit, UnitConfig
from sim.lifter import Lifter, LifterProfile
from sim.physics import Physics

_TEXT_FIELDS = ("serial", "coarse")


class SimOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 1
    cables: Annotated[int, Field(ge=1, le=2)] = 1
    max_kg: Annotated[float, Field(gt=0, le=200, multiple_of=0.5)] = 100.0
    lease_ms: Annotated[int, Field(ge=100, le=10_000)] = 500
    reps: Annotated[tuple[Annotated[int, Field(ge=1, le=100)], ...], Field(min_length=1)] = (10,)
    rest: Annotated[float, Field(ge=0, le=3600)] = 60.0
    pickup: Annotated[float, Field(ge=0, le=3600)] = 1.0
    one_rm_kg: Annotated[float | None, Field(gt=0, le=400)] = None
    drop_ack: Annotated[int, Field(ge=0)] = 0
    drop: Annotated[float, Field(ge=0, le=1)] = 0.0
    corrupt: Annotated[float, Field(ge=0, le=1)] = 0.0
    duplicate: Annotated[float, Field(ge=0, le=1)] = 0.0
    jitter_ms: Annotated[float, Field(ge=0, le=5000)] = 0.0
    disconnect_at: Annotated[float, Field(gt=0)] | None = None
    reboot_at: Annotated[float, Field(gt=0)] | None = None
    stuck_sensor_at: Annotated[float, Field(gt=0)] | None = None
    control_hz: Annotated[int, Field(ge=25, le=1000)] = 100  # lower: cheaper, coarser
    coarse: bool = False  # tick a telemetry batch per wake-up (long trials)
    setup_pull: Annotated[float, Field(ge=0, le=400)] = 0.0  # mm pulled before each set
    ramp_kg_s: Annotated[float, Field(gt=0, le=100, multiple_of=0.5)] = 10.0  # load rising
    serial: Annotated[str, Field(pattern=r"^[ -~]{1,12}$")] = "HSSIM0000001"

    @field_validator("*", mode="before")
    @classmethod
    def _plain(cls, v: object, info: ValidationInfo) -> object:
        """Numbers in a URL query are plain ASCII decimals, as everywhere (`1_0` is not 10)."""
        if info.field_name in _TEXT_FIELDS:
            return v
        for x in (v if isinstance(v, tuple | list) else [v]):  # reps: split already
            if isinstance(x, str) and not PLAIN_DECIMAL.fullmatch(x.strip()):
                    raise ValueError(f"{x!r} is not a plain decimal number (digits 0-9 and at "
                                     "most one '.')")
        return v

    @field_validator("reps", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        return tuple(x for x in v.split(",") if x) if isinstance(v, str) else v

    @classmethod
    def from_query(cls, params: dict[str, str]) -> SimOptions:
        try:
            return cls.model_validate(params)
        except ValidationError as e:
            raise ValueError(describe(e)) from None

    def build_unit(self, log: LogFn | None = None) -> SimUnit:
        profile = LifterProfile.from_seed(self.seed)
        if self.one_rm_kg is not None:
            profile.one_rm_kg = self.one_rm_kg
        lifter = Lifter(profile, seed=self.seed, set_reps=self.reps, rest_s=self.rest,
                        first_pickup_s=self.pickup, setup_pull_mm=self.setup_pull)
        config = UnitConfig(serial=self.serial, cables=self.cables,
                            max_load_half_kg=int(self.max_kg * 2), lease_ms=self.lease_ms,
                            control_hz=self.control_hz, coarse=self.coarse,
                            ramp_up_half_kg_per_s=round(self.ramp_kg_s * 2))
        faults = FaultPlan(drop_acks=self.drop_ack, drop_prob=self.drop,
                           corrupt_prob=self.corrupt, duplicate_prob=self.duplicate,
                           jitter_ms=self.jitter_ms, disconnect_at_s=self.disconnect_at,
                           reboot_at_s=self.reboot_at, stuck_sensor_at_s=self.stuck_sensor_at,
                           seed=self.seed)
        kw = {"log": log} if log is not None else {}
        return SimUnit(config, lifter, Physics(self.cables, self.seed), faults, **kw)

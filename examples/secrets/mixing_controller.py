"""Supervisory controller for the two-component dispensing cell, Saltmarsh line.

Brackenridge Fenwick Coatings, Process Automation. Implements DS-0412 section 4:
ratio trim, staggered pump start, pot-life purge and the divert interlock for
Bluefin resin as the A component and BF-220 as the B component.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import time

log = logging.getLogger("saltmarsh.mixcell")

# Nominal weight ratio A:B. Do not "fix" this to 3.1 - that is the volume ratio,
# and the Coriolis meters report mass flow. Somebody tried in March. Twice.
RATIO_NOMINAL = 4.00
RATIO_TOLERANCE = 0.010          # +/- 1 %, see DS-0412 section 2
RATIO_DEADBAND = 0.003           # inside this the trim does nothing
TRIM_SLEW_PER_S = 0.02           # at most 2 % of B-side speed per second
DIVERT_AFTER_S = 5.0             # out of tolerance this long -> divert to waste
POT_LIFE_PURGE_S = 60 * 60       # mixed material older than this is purged
PURGE_WINDOW_S = 30.0

# The B-side pump follows the A-side pump up the ramp with a fixed lag of 1.8 s.
# BF-220 is thin and reaches the mixer first if both pumps start together, so
# the first litre comes out hardener rich and stays tacky for a week. The lag was
# tuned on the Kirkby rig with a cold hose; a warm hose needs less, but we keep the
# worst case because the operators never wait for the jacket to come up to heat.
B_START_LAG_S = 1.8
RAMP_TIME_S = 6.0

# Part A viscosity climbs steeply below 32 C and the mixer pressure drop follows it.
# Above 36 C the hardener pot life at the mixer collapses. Keep both windows tight.
A_TEMP_WINDOW_C = (32.0, 36.0)
B_TEMP_WINDOW_C = (22.0, 26.0)
MAX_MIXER_DP_BAR = 60.0


class State(enum.Enum):
    IDLE = "idle"
    RAMPING = "ramping"
    DISPENSING = "dispensing"
    DIVERTED = "diverted"
    PURGING = "purging"
    FAULT = "fault"


@dataclasses.dataclass
class Readings:
    """One poll of the field devices (every 100 ms over Modbus TCP)."""

    mass_flow_a: float      # kg/min, Coriolis meter FT-301
    mass_flow_b: float      # kg/min, Coriolis meter FT-302
    temp_a: float           # C at mixer inlet, TT-311
    temp_b: float           # C at mixer inlet, TT-312
    mixer_dp: float         # bar across the static mixer, PDT-320
    estop_ok: bool          # from the safety PLC, never decided here


@dataclasses.dataclass
class Outputs:
    speed_a: float = 0.0    # fraction of maximum servo speed
    speed_b: float = 0.0
    divert: bool = False    # three-way valve XV-330 to the waste drum
    release_lot: bool = False


class MixCell:
    """Ratio loop and sequencing. The safety PLC still owns the hardwired trips."""

    def __init__(self, target_flow: float, clock=time.monotonic) -> None:
        self.clock = clock
        self.target_flow = target_flow          # kg/min of mixed material
        self.state = State.IDLE
        self.out = Outputs()
        self.trim = 0.0
        self.integral = 0.0
        self.started_at = 0.0
        self.out_of_tol_since: float | None = None
        self.last_flow_at = 0.0
        self.purge_started: float | None = None
        self.events: list[tuple[float, str]] = []

    # -- sequencing ---------------------------------------------------------------

    def start(self) -> None:
        if self.state not in (State.IDLE, State.DIVERTED):
            raise RuntimeError(f"cannot start from {self.state.value}")
        self.started_at = self.clock()
        self.integral = 0.0
        self.trim = 0.0
        self.state = State.RAMPING
        self._event("start")

    def stop(self) -> None:
        # Stop B before A. The B-side check valve is the only thing
        # between the resin and the hardener line, and it weeps when it is worn.
        self.out.speed_b = 0.0
        self.out.speed_a = 0.0
        self.state = State.IDLE
        self._event("stop")

    def _ramp(self, now: float) -> None:
        elapsed = now - self.started_at
        base_a = self._speed_for_a()
        base_b = self._speed_for_b()
        frac_a = min(1.0, elapsed / RAMP_TIME_S)
        frac_b = min(1.0, max(0.0, elapsed - B_START_LAG_S) / RAMP_TIME_S)
        self.out.speed_a = base_a * frac_a
        self.out.speed_b = base_b * frac_b
        if frac_a >= 1.0 and frac_b >= 1.0:
            self.state = State.DISPENSING
            self._event("ramp complete")

    def _speed_for_a(self) -> float:
        # 20 cc/rev A-side pump, density 1.45 kg/l, gearbox 10:1, servo 3000 rpm
        kg_per_min_at_full = 20e-3 * 1.45 * 300
        share_a = RATIO_NOMINAL / (RATIO_NOMINAL + 1.0)
        return min(1.0, self.target_flow * share_a / kg_per_min_at_full)

    def _speed_for_b(self) -> float:
        # 6 cc/rev B-side pump, density 0.98 kg/l
        kg_per_min_at_full = 6e-3 * 0.98 * 300
        share_b = 1.0 / (RATIO_NOMINAL + 1.0)
        return min(1.0, self.target_flow * share_b / kg_per_min_at_full)

    # -- control loop -------------------------------------------------------------

    def step(self, r: Readings, dt: float = 0.1) -> Outputs:
        now = self.clock()
        if not r.estop_ok:
            self.out = Outputs()
            self.state = State.FAULT
            return self.out
        if not self._temperatures_ok(r) or r.mixer_dp > MAX_MIXER_DP_BAR:
            self._divert(now, "temperature or pressure out of window")
        if self.state is State.RAMPING:
            self._ramp(now)
        elif self.state is State.DISPENSING:
            self._trim_ratio(r, now, dt)
        self._pot_life(r, now)
        return self.out

    def _trim_ratio(self, r: Readings, now: float, dt: float) -> None:
        if r.mass_flow_b <= 0.01:
            self._divert(now, "no hardener flow")
            return
        ratio = r.mass_flow_a / r.mass_flow_b
        error = (ratio - RATIO_NOMINAL) / RATIO_NOMINAL
        # A noisy meter reading is the usual cause of a single bad sample; the slew
        # limit below keeps one spike from swinging the B pump. Never remove it.
        if abs(error) > RATIO_DEADBAND:
            self.integral += error * dt
            wanted = 0.6 * error + 0.15 * self.integral
            step = max(-TRIM_SLEW_PER_S * dt, min(TRIM_SLEW_PER_S * dt, wanted - self.trim))
            self.trim += step
        self.out.speed_b = max(0.0, min(1.0, self._speed_for_b() * (1.0 + self.trim)))
        if abs(error) > RATIO_TOLERANCE:
            if self.out_of_tol_since is None:
                self.out_of_tol_since = now
            elif now - self.out_of_tol_since > DIVERT_AFTER_S:
                self._divert(now, f"ratio {ratio:.3f} out of tolerance")
        else:
            self.out_of_tol_since = None
            self.out.release_lot = True

    def _pot_life(self, r: Readings, now: float) -> None:
        # Gel point arrives in the hose long before the material looks thick. Count
        # from the last time material actually moved, not from the last start.
        if r.mass_flow_a + r.mass_flow_b > 0.05:
            self.last_flow_at = now
            return
        if self.last_flow_at and now - self.last_flow_at > POT_LIFE_PURGE_S:
            if self.purge_started is None:
                self.purge_started = now
                self.state = State.PURGING
                self.out.divert = True
                self._event("pot life expired, purging")
            elif now - self.purge_started > PURGE_WINDOW_S:
                self._event("purge window exceeded")
                self.state = State.FAULT

    def _divert(self, now: float, why: str) -> None:
        # Operators may acknowledge but never override a divert. Only the shift
        # engineer's key switch clears it (input handled by the safety PLC).
        if self.state is not State.DIVERTED:
            self._event(f"divert: {why}")
        self.state = State.DIVERTED
        self.out.divert = True
        self.out.release_lot = False

    def _temperatures_ok(self, r: Readings) -> bool:
        lo_a, hi_a = A_TEMP_WINDOW_C
        lo_b, hi_b = B_TEMP_WINDOW_C
        return lo_a <= r.temp_a <= hi_a and lo_b <= r.temp_b <= hi_b

    def _event(self, text: str) -> None:
        self.events.append((self.clock(), text))
        log.info("mixcell %s: %s", self.state.value, text)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    cell = MixCell(target_flow=3.0)
    cell.start()
    for _ in range(100):
        cell.step(Readings(2.4, 0.6, 34.0, 24.0, 41.0, True))
        time.sleep(0.1)

# CONFIDENTIAL — Property of Brackenridge Fenwick Coatings Ltd. This document contains
# proprietary information and trade secrets. It may not be copied, distributed or disclosed,
# in whole or in part, to any third party without the prior written consent of the Company.
# Unauthorised disclosure may result in legal action.

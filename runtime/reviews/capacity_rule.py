"""The scaling rule the capacity and cost reviews share.

* scale in: average CPU under 20% and peak under 40% -> halve the desired capacity (rounded up);
* scale out: average CPU over 70% -> add half again (rounded up);
* otherwise hold.
The suggestion is always bounded by the group's min and max size; a suggestion equal to the current
desired capacity is a hold, with the bound named in the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from runtime.reviews.cpu import CpuStats

SCALE_IN_AVERAGE_BELOW = 20.0
SCALE_IN_PEAK_BELOW = 40.0
SCALE_OUT_AVERAGE_ABOVE = 70.0

Verdict = Literal["scale in", "scale out", "hold", "no data"]

SCALE_IN_RULE = f"avg < {SCALE_IN_AVERAGE_BELOW:g}% and max < {SCALE_IN_PEAK_BELOW:g}% → halve"
SCALE_OUT_RULE = f"avg > {SCALE_OUT_AVERAGE_ABOVE:g}% → +50%"
HOLD_RULE = "utilisation within bounds"
NO_DATA_RULE = "no CPU datapoints in the window"


@dataclass(frozen=True)
class Recommendation:
    verdict: Verdict
    desired: int
    suggested: int
    rule: str

    @property
    def change(self) -> int:
        return self.suggested - self.desired


def recommend(desired: int, min_size: int, max_size: int, cpu: CpuStats | None) -> Recommendation:
    if cpu is None:
        return Recommendation("no data", desired, desired, NO_DATA_RULE)
    if cpu.average < SCALE_IN_AVERAGE_BELOW and cpu.maximum < SCALE_IN_PEAK_BELOW:
        target = max(min_size, math.ceil(desired / 2))
        if target < desired:
            return Recommendation(
                "scale in", desired, target, _bounded(SCALE_IN_RULE, target, min_size, "min")
            )
        return Recommendation(
            "hold", desired, desired, f"{SCALE_IN_RULE}, but already at min size {min_size}"
        )
    if cpu.average > SCALE_OUT_AVERAGE_ABOVE:
        target = min(max_size, math.ceil(desired * 1.5))
        if target > desired:
            return Recommendation(
                "scale out", desired, target, _bounded(SCALE_OUT_RULE, target, max_size, "max")
            )
        return Recommendation(
            "hold", desired, desired, f"{SCALE_OUT_RULE}, but already at max size {max_size}"
        )
    return Recommendation("hold", desired, desired, HOLD_RULE)


def _bounded(rule: str, target: int, bound: int, name: str) -> str:
    return f"{rule} (bounded by {name} {bound})" if target == bound else rule

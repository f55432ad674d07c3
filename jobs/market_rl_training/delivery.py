"""The spend every learned bidder must deliver: a constraint, trained with a Lagrange multiplier.

A learned bidder replaces a script whose advertiser expects its budget at work; profit on a sliver of that
spend is a different product (the verdict calls it "out-earns on less spend"). Every learner therefore trains
under ``spend >= floor x its script's spend`` (on the selection seeds). The constraint enters the reward as
``value x spend`` (RetargetingParallelEnv.set_spend_values), and ``value`` is found by dual ascent: after each
evaluation it moves by ``step x (floor - spend share)``, never below 0. A learner that delivers enough keeps
value 0 and learns on profit alone; the verdicts judge profit alone either way. It is the dual treatment that
budget pacing in autobidding gives the opposite constraint, a spend cap (Balseiro & Gur, "Learning in repeated
auctions with budgets", 2019), turned into a spend floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.plots import pyplot, save_png
from models.market.policies import scripted_run


@dataclass
class Delivery:
    """The delivery constraint of each learner and its current Lagrange multiplier (``values``)."""

    floor: float
    step: float
    script_spend: dict[str, float]
    values: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per evaluation: what the step saw

    @classmethod
    def measure(cls, agents: list[str], env_cfg: dict, seeds: list[int], steps: int, floor: float,
                step: float) -> Delivery:
        """Each agent's script spend: its mean over ``seeds`` against the other scripts."""
        spend = {a: float(np.mean([scripted_run(a, env_cfg, s, steps)["spend"] for s in seeds])) for a in agents}
        return cls(floor, step, spend, {a: 0.0 for a in agents})

    def share(self, agent: str, spend: float) -> float:
        """``spend`` as a share of the agent's script spend (1 when the script spends nothing)."""
        ref = self.script_spend[agent]
        return spend / ref if ref > 0 else 1.0

    def rank(self, agent: str, profit: float, spend: float) -> tuple[bool, float]:
        """Which of two evaluated policies to keep: one that delivers beats one that does not; then profit."""
        return self.share(agent, spend) >= self.floor, profit

    def update(self, agent: str, spend: float, iteration: int = 0) -> float:
        """One dual-ascent step from an evaluation's spend (at training ``iteration``); the agent's new
        multiplier."""
        share = self.share(agent, spend)
        if not np.isfinite(share):  # a NaN value would turn every later reward into NaN
            raise ValueError(f"{agent}: the evaluation at iteration {iteration} spent {spend}, not a number: "
                             "no spend value follows from it")
        value = max(0.0, self.values.get(agent, 0.0) + self.step * (self.floor - share))
        self.history.append({"agent": agent, "iteration": iteration, "spend_share": share,
                             "value_before": self.values.get(agent, 0.0), "value_after": value})
        self.values[agent] = value
        return value


def delivery_png(history: pd.DataFrame, floor: float, path: Path) -> Path:
    """Per learner and evaluation: its share of the script's spend against the floor, and the spend value the
    dual step set from it."""
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for agent, g in history.groupby("agent", sort=False):
        ax.plot(g["iteration"], g["spend_share"], marker="o", ms=3, label=agent)
        bx.plot(g["iteration"], g["value_after"], marker="o", ms=3, label=agent)
    ax.axhline(floor, color="grey", ls=":")
    ax.set(xlabel="training iteration", ylabel="spend / the script's (selection seeds)",
           title=f"Spend delivered (dotted: the floor, {floor:.0%})")
    bx.set(xlabel="training iteration", ylabel="value of a unit of spend in the reward",
           title="Spend value (Lagrange multiplier)")
    ax.legend(fontsize=8)
    return save_png(fig, path, dpi=100)

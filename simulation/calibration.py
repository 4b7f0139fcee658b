"""Filling a scenario from the live community (`initial: {fromDatabase: true}`).

The estimators are `domain.calibration` (pure, in `domain` so the store-facing use case
needs nothing from `simulation`); this module is the simulation's side: it asks them for
a calibration and writes the estimates into a scenario document and its starting
population. It imports no store code: the unit of work is passed in.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date

from domain import calibration as estimators
from simulation.scenario import Initial, InitialPopulation, Scenario, parse

# scenario tier fields filled from estimates of the same name
TIER_FIELDS = ("activity", "conversionHazard", "churnHazard", "inviteRate",
               "revenuePerActiveDayMinor")


def apply(document: dict, result: estimators.Calibration) -> tuple[Scenario, dict]:
    """The scenario `document` with the calibration's estimates written in (tiers by key,
    the referral acceptance rate, market p and q when identified, `initial` as the
    current members) and that population attached. Returns (scenario, document)."""
    doc = copy.deepcopy(document)
    est = result.estimates
    for tier in doc.get("tiers", []):
        for name in TIER_FIELDS:
            found = est.get(f"tiers.{tier['key']}.{name}")
            if found is not None and found.n > 0:
                if name.endswith("Minor"):
                    tier[name] = int(round(found.value))
                elif name == "inviteRate":
                    tier[name] = found.value
                else:
                    tier[name] = min(found.value, 1.0)
    referral = doc.setdefault("referral", {})
    if est["referral.acceptanceRate"].n > 0:
        referral["acceptanceRate"] = est["referral.acceptanceRate"].value
    market = doc.setdefault("market", {})
    if "market.wordOfMouth" in est:
        paid = sum(c.get("joinRate", 0.0) for c in market.get("channels", []))
        market["externalJoinRate"] = min(max(est["market.externalJoinRate"].value - paid, 0.0),
                                         1.0)
        market["wordOfMouth"] = min(max(est["market.wordOfMouth"].value, 0.0), 1.0)
    init = result.initial
    warm_up = (doc.get("initial") or {}).get("warmUpDays", 0)
    doc["initial"] = {"fromDatabase": True, "asOf": result.window.as_of.isoformat(),
                      "members": int(len(init.tier)),
                      "payingShare": float(init.paying.mean()) if len(init.tier) else 0.0,
                      "warmUpDays": warm_up}
    scenario = parse(doc)
    population = InitialPopulation(tier=init.tier, paying=init.paying,
                                   days_inactive=init.days_inactive,
                                   propensity=init.propensity)
    scenario = dataclasses.replace(scenario, initial=Initial(
        members=len(init.tier), paying_share=doc["initial"]["payingShare"],
        warm_up_days=warm_up, from_database=True, population=population), document=doc)
    return scenario, doc


async def calibrate_scenario(uow, document: dict, *, as_of: date,
                             window_days: int = estimators.DEFAULT_WINDOW_DAYS,
                             churn_days: int = estimators.DEFAULT_CHURN_DAYS,
                             today: date | None = None
                             ) -> tuple[Scenario, dict, estimators.Calibration]:
    """Validate `document` (raises `InvalidScenario`), calibrate the community as of
    `as_of` (raises `NotEnoughData`, `TiersDoNotMatch`) and fill the scenario. Returns
    (scenario, filled document, calibration)."""
    base = parse(document)
    result = await estimators.calibrate(
        uow, as_of=as_of, tier_keys=base.tier_keys(), market_size=base.market.size,
        window_days=window_days, churn_days=churn_days, today=today)
    scenario, filled = apply(document, result)
    return scenario, filled, result

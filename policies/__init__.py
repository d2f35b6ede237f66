"""Policy as code: the decision matrix, the price table, and the pure ``decide`` over them."""

from policies.decision import Decision, DecisionFacts, PolicyDecision
from policies.engine import (
    Policy,
    PolicyError,
    PriceTable,
    approver_groups_of,
    can_approve,
    can_control,
    decide,
    decide_plan,
    load_policy,
    load_prices,
    monthly_cost_delta,
    rate_limit,
)

__all__ = [
    "Decision",
    "DecisionFacts",
    "Policy",
    "PolicyDecision",
    "PolicyError",
    "PriceTable",
    "approver_groups_of",
    "can_approve",
    "can_control",
    "decide",
    "decide_plan",
    "load_policy",
    "load_prices",
    "monthly_cost_delta",
    "rate_limit",
]

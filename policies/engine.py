"""Policy as code: load the decision matrix and the price table, and decide what may run.

``load_policy`` and ``load_prices`` read YAML and fail fast with a ``PolicyError`` naming the file and
the bad key.  ``decide``, ``decide_plan`` and the membership helpers are pure: no I/O, no clock.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from policies.decision import DecisionFacts, PolicyDecision

POLICY_DIR = Path(__file__).parent
DEFAULT_POLICY_PATH = POLICY_DIR / "decision_matrix.yaml"
DEFAULT_PRICES_PATH = POLICY_DIR / "prices.yaml"

USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
MEMBER_RE = re.compile(r"^([UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*)$")
NAME_RE = r"^[a-z][a-z0-9_-]*$"
INSTANCE_TYPE_RE = r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$"

# Where a step names the address it acts on, and the new capacity of a scaling step.
ADDRESS_PARAM_KEYS = ("cidr", "cidrs", "ip", "ips", "ip_address")
DESIRED_PARAM_KEYS = ("desired_capacity", "desired")

# Ranges that must never be blocked: our own traffic lives there, or nobody's does.  Documentation
# ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32) are left out on purpose: they are
# public-shaped, and sample findings use them.
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
NON_PUBLIC_NETWORKS: tuple[IpNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # RFC 1918
        "100.64.0.0/10",  # carrier-grade NAT, RFC 6598
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, including the instance metadata service
        "172.16.0.0/12",  # RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments
        "192.168.0.0/16",  # RFC 1918
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "::/128",  # unspecified
        "::1/128",  # loopback
        "100::/64",  # discard-only
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
    )
)
IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
IPV6_PREFIX_SHIFT = 32  # an IPv6 /64 is one host's subnet: compare v6 prefixes as if 32 bits longer

RuleDecision = Literal["auto", "approval", "reject", "log_only"]
ControlCommand = Literal["pause", "resume"]
ExpandUsergroup = Callable[[str], Iterable[str]]
GroupName = Annotated[str, Field(pattern=NAME_RE)]
GroupList = Annotated[list[GroupName], Field(min_length=1)]

M = TypeVar("M", bound=BaseModel)

RESTRICTIVENESS: dict[str, int] = {"none": 0, "auto": 1, "log_only": 2, "approval": 3, "reject": 4}


class PolicyError(ValueError):
    """The policy or price file is unreadable or invalid; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Conditions(_Strict):
    """Named conditions of a rule's ``when``.  Every condition that is set must hold."""

    finding_severity_at_least: float | None = Field(default=None, ge=0, le=10)
    sample: bool | None = None
    source: Literal["request", "alert"] | None = None
    cidr_private_or_reserved: bool | None = None
    cidr_wider_than: int | None = Field(default=None, ge=1, le=32)
    within_asg_max: bool | None = None
    max_scale_factor: float | None = Field(default=None, gt=0)
    max_monthly_cost_increase: float | None = None
    cost_unknown: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Conditions:
        if not self.model_fields_set:
            raise ValueError("'when' names no condition; use 'otherwise' for the fallback decision")
        return self

    @property
    def uses_address(self) -> bool:
        return self.cidr_private_or_reserved is not None or self.cidr_wider_than is not None


class Outcome(_Strict):
    """What a rule (or ``otherwise``) decides."""

    decide: RuleDecision
    groups: list[GroupName] = Field(default_factory=list)
    count: int = Field(default=1, ge=1)
    allow_requester: bool = True
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _groups_only_for_approval(self) -> Outcome:
        if self.decide == "approval" and not self.groups:
            raise ValueError("an approval must name at least one group in 'groups'")
        if self.decide != "approval" and (
            self.groups or "count" in self.model_fields_set or "allow_requester" in self.model_fields_set
        ):
            raise ValueError(
                f"'groups', 'count' and 'allow_requester' only apply to approval, not {self.decide}"
            )
        return self


class Rule(Outcome):
    name: str = Field(pattern=NAME_RE)
    when: Conditions


class ActionPolicy(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    otherwise: Outcome

    @model_validator(mode="after")
    def _unique_rule_names(self) -> ActionPolicy:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique, repeated: {', '.join(duplicates)}")
        return self


class Control(_Strict):
    pause: GroupList
    resume: GroupList


class BlastRadius(_Strict):
    max_steps_per_plan: int = Field(ge=1)
    max_instances_per_plan: int = Field(ge=1)
    max_block_prefix: int = Field(ge=1, le=32)


class AlertGating(_Strict):
    log_only_below: float = Field(default=4, ge=0, le=10)
    auto_at_least: float = Field(default=7, ge=0, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> AlertGating:
        if self.log_only_below > self.auto_at_least:
            raise ValueError("log_only_below must not be above auto_at_least")
        return self


class Policy(_Strict):
    version: Literal[1]
    approval_ttl_seconds: int = Field(default=3600, ge=60)
    groups: dict[GroupName, Annotated[list[str], Field(min_length=1)]]
    default_approvers: GroupList
    control: Control
    rate_limits: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    blast_radius: BlastRadius
    alerts: AlertGating = Field(default_factory=AlertGating)
    actions: dict[Annotated[str, Field(pattern=NAME_RE)], ActionPolicy]

    @field_validator("groups")
    @classmethod
    def _valid_members(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, members in groups.items():
            for member in members:
                if not MEMBER_RE.match(member):
                    raise ValueError(
                        f"groups.{name}: '{member}' is not a Slack user id (U...), user-group id (S...) "
                        "or user-group handle (@name)"
                    )
        return groups

    @model_validator(mode="after")
    def _references_resolve(self) -> Policy:
        references: list[tuple[str, list[str]]] = [
            ("default_approvers", self.default_approvers),
            ("control.pause", self.control.pause),
            ("control.resume", self.control.resume),
        ]
        for action, entry in self.actions.items():
            references += [(f"actions.{action}.rules.{r.name}.groups", r.groups) for r in entry.rules]
            references.append((f"actions.{action}.otherwise.groups", entry.otherwise.groups))
        for where, names in references:
            for name in names:
                if name not in self.groups:
                    raise ValueError(f"{where}: group '{name}' is not defined under 'groups'")
        for action in self.rate_limits:
            if action not in self.actions:
                raise ValueError(f"rate_limits.{action}: no action '{action}' under 'actions'")
        for action, entry in self.actions.items():
            for where, outcome in [(f"rules.{r.name}", r) for r in entry.rules] + [
                ("otherwise", entry.otherwise)
            ]:
                self._check_reachable_count(f"actions.{action}.{where}", outcome)
        return self

    def _check_reachable_count(self, where: str, outcome: Outcome) -> None:
        """Fail when the named groups list only individual users, and too few of them."""
        if outcome.decide != "approval":
            return
        members = {member for group in outcome.groups for member in self.groups[group]}
        if all(USER_ID_RE.match(member) for member in members) and len(members) < outcome.count:
            raise ValueError(
                f"{where}.count: needs {outcome.count} approvers "
                f"but its groups list only {len(members)} people"
            )


class PriceTable(_Strict):
    source: str = Field(min_length=1)
    as_of: str = Field(min_length=1)
    region: str = Field(min_length=1)
    currency: Literal["USD"]
    hours_per_month: int = Field(default=730, ge=1)
    hourly: dict[Annotated[str, Field(pattern=INSTANCE_TYPE_RE)], Annotated[float, Field(gt=0)]]


# ---------------------------------------------------------------------------------------------------------
# Loading


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a decision matrix; ``None`` reads the shipped ``policies/decision_matrix.yaml``."""
    source = path or DEFAULT_POLICY_PATH
    return _validated(Policy, _read_mapping(source), source)


def load_prices(path: Path | None = None) -> PriceTable:
    """Read and validate a price table; ``None`` reads the shipped ``policies/prices.yaml``."""
    source = path or DEFAULT_PRICES_PATH
    return _validated(PriceTable, _read_mapping(source), source)


def monthly_cost_delta(prices: PriceTable, instance_type: str, delta_instances: int) -> float | None:
    """USD/month that ``delta_instances`` more (or fewer) instances add; ``None`` if the type is unknown."""
    hourly = prices.hourly.get(instance_type.strip())
    if hourly is None:
        return None
    return round(hourly * prices.hours_per_month * delta_instances, 2)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses repeated keys (PyYAML would silently keep the last one)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' appears more than once", key_node.start_mark
            )
        if isinstance(key, str | int | float | bool):
            seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from exc
    if data is None:
        raise PolicyError(f"{path}: the file is empty; it must be a YAML mapping of keys to values")
    if not isinstance(data, dict):
        raise PolicyError(
            f"{path}: the top level must be a YAML mapping of keys to values, not a {_kind(data)}"
        )
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{exc.problem or exc.context}{where}"
    return str(exc)


def _kind(value: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _validated(model: type[M], data: dict[str, Any], path: Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise PolicyError(f"{path}: {problems[0]}{more}") from exc


def _describe(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key is missing"
    else:
        message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


# ---------------------------------------------------------------------------------------------------------
# Deciding


class _UnreadableFact(Exception):
    """A rule needs a fact the step does not carry in a usable form: fail closed."""


def decide(policy: Policy, facts: DecisionFacts) -> PolicyDecision:
    """Decide one plan step: auto, approval (who, how many), reject or log_only, with plain reasons."""
    entry = policy.actions.get(facts.action)
    if entry is None:
        return _reject(f"no policy rule for action {facts.action} (default deny)")
    if facts.errors:
        return _reject(*facts.errors)
    if facts.paused:
        return _reject(f"automation is paused (a member of {_or_list(policy.control.resume)} can resume it)")
    limit = policy.rate_limits.get(facts.action)
    if limit is not None and facts.rate_used >= limit:
        return _reject(
            f"rate limit reached: {facts.action} may run {limit} times per hour "
            f"and has run {facts.rate_used} times this hour"
        )
    severity = facts.alert_severity
    if facts.source == "alert" and facts.resolved:
        return PolicyDecision(
            decision="log_only", reasons=["the alarm is resolved / the check passed: logged only"]
        )
    if facts.source == "alert" and severity is not None and severity < policy.alerts.log_only_below:
        return PolicyDecision(
            decision="log_only",
            reasons=[f"alert severity {severity:g} is below {policy.alerts.log_only_below:g}: logged only"],
        )
    try:
        name, outcome = _matching_outcome(entry, facts)
    except _UnreadableFact as exc:
        return _reject(str(exc))
    decision = _from_outcome(outcome, f"{facts.action} rule '{name}': {outcome.reason}")
    medium_alert = facts.source == "alert" and (severity is None or severity < policy.alerts.auto_at_least)
    if decision.decision == "auto" and medium_alert:
        return _escalated(policy, entry, decision, severity)
    return decision


def decide_plan(policy: Policy, facts_per_step: Sequence[DecisionFacts]) -> PolicyDecision:
    """Decide a whole plan: the most restrictive step wins (reject > approval > log_only > auto)."""
    if not facts_per_step:
        return PolicyDecision(decision="none", reasons=["the plan has no steps"])
    limit = policy.blast_radius.max_steps_per_plan
    if len(facts_per_step) > limit:
        return _reject(f"the plan has {len(facts_per_step)} steps; policy allows at most {limit} per plan")
    decisions = [decide(policy, facts) for facts in facts_per_step]
    worst = max((d.decision for d in decisions), key=RESTRICTIVENESS.__getitem__)
    deciding = [
        (i, f, d)
        for i, (f, d) in enumerate(zip(facts_per_step, decisions, strict=True))
        if d.decision == worst
    ]
    reasons = [f"step {i + 1} ({facts.action}): {reason}" for i, facts, d in deciding for reason in d.reasons]
    if worst != "approval":
        return PolicyDecision(decision=worst, reasons=reasons)
    approvers = list(dict.fromkeys(group for _, _, d in deciding for group in d.approvers))
    return PolicyDecision(
        decision="approval",
        approvers=approvers,
        count=max(d.count for _, _, d in deciding),
        allow_requester=all(d.allow_requester for _, _, d in deciding),
        reasons=reasons,
    )


def rate_limit(policy: Policy, action: str) -> int | None:
    """Executions of ``action`` allowed per hour, or ``None`` when the policy sets no limit."""
    return policy.rate_limits.get(action)


def approver_groups_of(
    policy: Policy, user_id: str, expand_usergroup: ExpandUsergroup | None = None
) -> set[str]:
    """The policy groups ``user_id`` belongs to, directly or through a Slack user group.

    ``expand_usergroup`` turns a user-group id (S...) or handle (@name) into its members' user ids;
    without it, only users listed by id count.
    """
    if not user_id:
        return set()
    expanded: dict[str, set[str]] = {}
    result: set[str] = set()
    for group, members in policy.groups.items():
        for member in members:
            if member == user_id:
                result.add(group)
                break
            if expand_usergroup is None or USER_ID_RE.match(member):
                continue
            if member not in expanded:
                expanded[member] = set(expand_usergroup(member))
            if user_id in expanded[member]:
                result.add(group)
                break
    return result


def can_control(
    policy: Policy,
    user_id: str,
    command: ControlCommand = "pause",
    expand_usergroup: ExpandUsergroup | None = None,
) -> bool:
    """May ``user_id`` pause (or resume) all automation?"""
    allowed = policy.control.pause if command == "pause" else policy.control.resume
    return bool(approver_groups_of(policy, user_id, expand_usergroup) & set(allowed))


def can_approve(
    policy: Policy,
    decision: PolicyDecision,
    user_id: str,
    requester: str,
    expand_usergroup: ExpandUsergroup | None = None,
) -> bool:
    """May ``user_id`` give one of the approvals ``decision`` asks for?  Counting them is the caller's job."""
    if decision.decision != "approval":
        return False
    if not decision.allow_requester and user_id == requester:
        return False
    return bool(approver_groups_of(policy, user_id, expand_usergroup) & set(decision.approvers))


def _matching_outcome(entry: ActionPolicy, facts: DecisionFacts) -> tuple[str, Outcome]:
    for rule in entry.rules:
        if _holds(rule.when, facts):
            return rule.name, rule
    return "otherwise", entry.otherwise


def _holds(when: Conditions, facts: DecisionFacts) -> bool:
    checks: list[bool] = []
    if when.finding_severity_at_least is not None:
        checks.append(
            facts.finding_severity is not None and facts.finding_severity >= when.finding_severity_at_least
        )
    if when.sample is not None:
        checks.append(facts.sample == when.sample)
    if when.source is not None:
        checks.append(facts.source == when.source)
    if when.cost_unknown is not None:
        checks.append((facts.monthly_cost_delta is None) == when.cost_unknown)
    if when.max_monthly_cost_increase is not None:
        cost = facts.monthly_cost_delta
        checks.append(cost is not None and cost <= when.max_monthly_cost_increase)
    desired = _desired_capacity(facts.params)
    if when.within_asg_max is not None:
        within = desired is not None and facts.asg_max is not None and desired <= facts.asg_max
        checks.append(within == when.within_asg_max)
    if when.max_scale_factor is not None:
        current = facts.asg_current
        checks.append(
            desired is not None and current is not None and desired <= current * when.max_scale_factor
        )
    if when.uses_address:
        networks = _target_networks(facts)
        if when.cidr_private_or_reserved is not None:
            checks.append(any(_is_non_public(net) for net in networks) == when.cidr_private_or_reserved)
        if when.cidr_wider_than is not None:
            checks.append(any(_wider_than(net, when.cidr_wider_than) for net in networks))
    return all(checks)


def _desired_capacity(params: dict[str, Any]) -> int | None:
    for key in DESIRED_PARAM_KEYS:
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _target_networks(facts: DecisionFacts) -> list[IpNetwork]:
    raw: list[Any] = []
    for key in ADDRESS_PARAM_KEYS:
        value = facts.params.get(key)
        raw += value if isinstance(value, list) else [] if value is None else [value]
    networks: list[IpNetwork] = []
    for value in raw:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise _UnreadableFact(f"'{value}' is not an IP address or CIDR block") from None
    if not networks:
        raise _UnreadableFact(
            f"{facts.action} names no IP address or CIDR block (params {' / '.join(ADDRESS_PARAM_KEYS)}) "
            "to check against policy"
        )
    return networks


def _is_non_public(network: IpNetwork) -> bool:
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(IPV4_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None
        return _is_non_public(ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}", strict=False))
    return any(
        network.overlaps(reserved) for reserved in NON_PUBLIC_NETWORKS if reserved.version == network.version
    )


def _wider_than(network: IpNetwork, prefix: int) -> bool:
    threshold = prefix if network.version == 4 else prefix + IPV6_PREFIX_SHIFT
    return network.prefixlen < threshold


def _from_outcome(outcome: Outcome, reason: str) -> PolicyDecision:
    if outcome.decide != "approval":
        return PolicyDecision(decision=outcome.decide, reasons=[reason])
    return PolicyDecision(
        decision="approval",
        approvers=list(outcome.groups),
        count=outcome.count,
        allow_requester=outcome.allow_requester,
        reasons=[reason],
    )


def _escalated(
    policy: Policy, entry: ActionPolicy, decision: PolicyDecision, severity: float | None
) -> PolicyDecision:
    """A medium (or unknown) severity alert never acts alone: raise auto to approval."""
    fallback = entry.otherwise
    if fallback.decide == "approval":
        groups, count, allow_requester = list(fallback.groups), fallback.count, fallback.allow_requester
    else:
        groups, count, allow_requester = list(policy.default_approvers), 1, True
    level = "unknown" if severity is None else f"{severity:g}, below {policy.alerts.auto_at_least:g}"
    reason = f"alert severity is {level}: automatic actions need approval by {_or_list(groups)}"
    return PolicyDecision(
        decision="approval",
        approvers=groups,
        count=count,
        allow_requester=allow_requester,
        reasons=[*decision.reasons, reason],
    )


def _reject(*reasons: str) -> PolicyDecision:
    return PolicyDecision(decision="reject", reasons=list(reasons))


def _or_list(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"

"""The one declaration every AWS action is made of.

A ``ToolSpec`` carries the name, the pydantic args model, the risk, the run/verify/rollback
functions and the resources it touches.  The LLM tool schema, the policy key, plan validation
and the executor all come from this one object (see ``tools.registry``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, field_validator

Risk = Literal["read", "write", "destructive"]
JsonDict = dict[str, Any]

REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
INSTANCE_ID_RE = re.compile(r"^i-[0-9a-f]{8}([0-9a-f]{9})?$")
SECURITY_GROUP_ID_RE = re.compile(r"^sg-[0-9a-f]{8}([0-9a-f]{9})?$")
VPC_ID_RE = re.compile(r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")


class ToolError(Exception):
    """An action failed in a way worth telling the user in one plain sentence."""


class AwsUnreachable(ToolError):
    """AWS could not be reached (network, endpoint, credentials): nothing is known about the resource."""


class ActionArgs(BaseModel):
    """Base for every action's arguments: strict, frozen, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class RegionArgs(ActionArgs):
    region: str = "us-east-1"

    @field_validator("region")
    @classmethod
    def _valid_region(cls, value: str) -> str:
        return check_match(REGION_RE, value, f"'{value}' is not an AWS region name (like us-east-1)")


def check_match(pattern: re.Pattern[str], value: str, message: str) -> str:
    """``value`` if ``pattern`` matches it, else a ValueError saying ``message`` (for pydantic validators)."""
    if not pattern.match(value):
        raise ValueError(message)
    return value


def check_instance_id(value: str) -> str:
    return check_match(
        INSTANCE_ID_RE, value, f"'{value}' is not an EC2 instance id (i- and 8 or 17 hex digits)"
    )


class AwsClients:
    """Caches boto3 clients per (service, region). Endpoint and retries come from config."""

    def __init__(self, endpoint_url: str | None = None, max_attempts: int = 5) -> None:
        self._endpoint_url = endpoint_url
        self._session = boto3.session.Session()
        self._config = Config(retries={"max_attempts": max_attempts, "mode": "adaptive"})
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service, region_name=region, endpoint_url=self._endpoint_url, config=self._config
                )
            return self._clients[key]

    def use(self, service: str, region: str, client: Any) -> None:
        """Serve ``client`` for (service, region) from now on: a client wrapped in botocore's Stubber,
        for the few APIs moto does not implement (see the README's list)."""
        with self._lock:
            self._clients[(service, region)] = client


@dataclass(frozen=True)
class ExecContext:
    """What an action needs to know about the run it belongs to."""

    incident_id: str
    dry_run: bool = False
    quarantine_group_name: str = "opsbot-quarantine"
    waf_ip_set: JsonDict | None = None  # {"name":..., "id":..., "scope": "REGIONAL"|"CLOUDFRONT"}
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    detail: str


A = TypeVar("A", bound=ActionArgs)

RunFn = Callable[[AwsClients, A, ExecContext], JsonDict]
VerifyFn = Callable[[AwsClients, A, JsonDict], VerifyResult]
RollbackFn = Callable[[AwsClients, A, JsonDict, ExecContext], JsonDict]
ResourcesFn = Callable[[A], list[str]]


@dataclass(frozen=True)
class ToolSpec(Generic[A]):
    """One AWS action.

    ``run`` performs the action (honouring ``ctx.dry_run``) and returns a JSON record that holds
    what rollback and verify need (the prior state).  ``rollback`` undoes it from that record.
    """

    name: str
    description: str
    args: type[A]
    risk: Risk
    run: RunFn[A]
    verify: VerifyFn[A]
    resources: ResourcesFn[A]
    rollback: RollbackFn[A] | None = None
    rollback_summary: str = "not reversible"
    effect: str = ""

    @property
    def reversible(self) -> bool:
        return self.rollback is not None

    def parse_args(self, raw: JsonDict) -> A:
        return self.args.model_validate(raw)

    def llm_schema(self) -> JsonDict:
        """The Anthropic tool-use schema, generated from the args model."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.args.model_json_schema(),
        }

"""CloudTrail lookup_events by resource name. moto does not implement LookupEvents, so a real
CloudTrail client wrapped in botocore's Stubber stands in: it checks the request against the service
model, and the replies follow the documented record shape (CloudTrail user guide, "CloudTrail log file
examples"; the AuthorizeSecurityGroupIngress record of AWS re:Post "cloudtrail event history changed")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tools.base import AwsClients, ToolError
from tools.cloudtrail_lookup import change_lines, recent_changes

REGION = "us-east-1"
ACL = "acl-0a1b2c3d4e5f60718"
SG = "sg-0123456789abcdef0"


def _record(name: str, identity: dict[str, Any], params: dict[str, Any], **extra: Any) -> str:
    return json.dumps(
        {
            "eventVersion": "1.08",
            "userIdentity": identity,
            "eventTime": "2024-05-01T10:02:11Z",
            "eventSource": "ec2.amazonaws.com",
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": "198.51.100.23",
            "userAgent": "aws-cli/2.15.30",
            "requestParameters": params,
            "responseElements": {"_return": True},
            "eventType": "AwsApiCall",
            "recipientAccountId": "123456789012",
            **extra,
        }
    )


ALICE = {
    "type": "IAMUser",
    "principalId": "AIDACKCEVSQ6C2EXAMPLE",
    "arn": "arn:aws:iam::123456789012:user/alice",
    "accountId": "123456789012",
    "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
    "userName": "alice",
}
BOB_ROLE = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEID:bob",
    "arn": "arn:aws:sts::123456789012:assumed-role/NetworkAdmin/bob",
    "accountId": "123456789012",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAEXAMPLEID",
            "arn": "arn:aws:iam::123456789012:role/NetworkAdmin",
            "accountId": "123456789012",
            "userName": "NetworkAdmin",
        },
        "attributes": {"mfaAuthenticated": "false", "creationDate": "2024-05-01T09:00:00Z"},
    },
}


def _event(
    name: str, when: datetime, identity: dict[str, Any], params: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    read_only = kw.pop("read_only", "false")
    username = kw.pop("username", identity.get("userName", "bob"))
    return {
        "EventId": f"{name}-{when:%H%M}",
        "EventName": name,
        "ReadOnly": read_only,
        "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "EventTime": when,
        "EventSource": "ec2.amazonaws.com",
        "Username": username,
        "Resources": [{"ResourceType": "AWS::EC2::NetworkAcl", "ResourceName": ACL}],
        "CloudTrailEvent": _record(name, identity, params, **kw),
    }


@pytest.fixture
def stubbed() -> Iterator[tuple[AwsClients, Stubber]]:
    client = boto3.client("cloudtrail", region_name=REGION)
    stubber = Stubber(client)
    clients = AwsClients()
    clients.use("cloudtrail", REGION, client)
    with stubber:
        yield clients, stubber
    stubber.assert_no_pending_responses()


def _expect(stubber: Stubber, resource: str, events: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "lookup_events",
        {"Events": events},
        {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": resource}],
            "MaxResults": 50,
        },
    )


def test_changes_to_a_nacl_newest_first_reads_left_out(stubbed: tuple[AwsClients, Stubber]) -> None:
    clients, stubber = stubbed
    deny = {
        "networkAclId": ACL,
        "ruleNumber": 90,
        "egress": False,
        "ruleAction": "deny",
        "aclProtocol": "6",
        "cidrBlock": "10.0.1.0/24",
        "portRange": {"from": 5432, "to": 5432},
    }
    _expect(
        stubber,
        ACL,
        [
            _event(
                "DescribeNetworkAcls", datetime(2024, 5, 1, 11, 0, tzinfo=UTC), ALICE, {}, read_only="true"
            ),
            _event("CreateNetworkAclEntry", datetime(2024, 5, 1, 10, 2, tzinfo=UTC), BOB_ROLE, deny),
            _event(
                "ReplaceNetworkAclEntry",
                datetime(2024, 5, 1, 10, 30, tzinfo=UTC),
                ALICE,
                {"networkAclId": ACL, "ruleNumber": 100, "ruleAction": "allow"},
                errorCode="Client.UnauthorizedOperation",
            ),
        ],
    )

    changes = recent_changes(clients, ACL, REGION, max_events=5)

    assert [change.event_name for change in changes] == ["ReplaceNetworkAclEntry", "CreateNetworkAclEntry"]
    assert changes[1].who == "NetworkAdmin/bob"
    assert changes[1].details == (
        "ruleNumber=90 egress=false ruleAction=deny aclProtocol=6 cidrBlock=10.0.1.0/24 from=5432"
    )
    assert change_lines(ACL, changes) == [
        f"Recent changes to {ACL} (CloudTrail):",
        "  2024-05-01 10:30 UTC alice ReplaceNetworkAclEntry: ruleNumber=100 ruleAction=allow "
        "(failed: Client.UnauthorizedOperation)",
        "  2024-05-01 10:02 UTC NetworkAdmin/bob CreateNetworkAclEntry: ruleNumber=90 egress=false "
        "ruleAction=deny aclProtocol=6 cidrBlock=10.0.1.0/24 from=5432",
    ]


def test_last_n_and_no_changes(stubbed: tuple[AwsClients, Stubber]) -> None:
    clients, stubber = stubbed
    revoke = {
        "groupId": SG,
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": 5432,
                    "toPort": 5432,
                    "groups": {},
                    "ipRanges": {"items": [{"cidrIp": "10.0.1.0/24"}]},
                }
            ]
        },
    }
    events = [
        _event("RevokeSecurityGroupIngress", datetime(2024, 5, 1, 9, minute, tzinfo=UTC), ALICE, revoke)
        for minute in range(4)
    ]
    _expect(stubber, SG, events)
    _expect(stubber, "sg-0fedcba9876543210", [])

    changes = recent_changes(clients, SG, REGION, max_events=2)
    assert [change.time.minute for change in changes] == [3, 2]
    assert changes[0].details == "ipProtocol=tcp fromPort=5432 toPort=5432 cidrIp=10.0.1.0/24"
    assert change_lines("sg-0fedcba9876543210", recent_changes(clients, "sg-0fedcba9876543210", REGION)) == [
        "CloudTrail has no recorded changes to sg-0fedcba9876543210 in the last 90 days"
    ]


def test_refusal_is_one_sentence(stubbed: tuple[AwsClients, Stubber]) -> None:
    clients, stubber = stubbed
    stubber.add_client_error(
        "lookup_events", service_error_code="AccessDeniedException", service_message="not authorized"
    )
    with pytest.raises(ToolError, match=f"AWS refused to look up CloudTrail events for {SG}: not authorized"):
        recent_changes(clients, SG, REGION)

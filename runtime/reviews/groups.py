"""Auto Scaling groups with their CPU over a window and the scaling rule's recommendation."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from policies.engine import PriceTable, monthly_cost_delta
from runtime.reviews.capacity_rule import Recommendation, recommend
from runtime.reviews.cpu import CpuStats, cpu_stats
from runtime.reviews.inventory import auto_scaling_groups
from tools.base import AwsClients, JsonDict
from tools.context import aws_errors, describe_asg


@dataclass(frozen=True)
class GroupAssessment:
    name: str
    region: str
    desired: int
    min_size: int
    max_size: int
    instance_type: str | None
    cpu: CpuStats | None
    recommendation: Recommendation

    def monthly_change(self, prices: PriceTable) -> float | None:
        """USD/month the recommendation adds (negative: saves); None when the type has no price."""
        if self.recommendation.change == 0:
            return 0.0
        if self.instance_type is None:
            return None
        return monthly_cost_delta(prices, self.instance_type, self.recommendation.change)


def assess_groups(clients: AwsClients, region: str, now: float, days: int) -> list[GroupAssessment]:
    with aws_errors(f"list the Auto Scaling groups in {region}"):
        groups = auto_scaling_groups(clients, region)
    found: list[GroupAssessment] = []
    for group in sorted(groups, key=lambda group: str(group["AutoScalingGroupName"])):
        name = str(group["AutoScalingGroupName"])
        with aws_errors(f"read the CPU utilisation of {name}"):
            cpu = cpu_stats(clients, region, "AutoScalingGroupName", name, now, days)
        desired, low, high = int(group["DesiredCapacity"]), int(group["MinSize"]), int(group["MaxSize"])
        found.append(
            GroupAssessment(
                name=name,
                region=region,
                desired=desired,
                min_size=low,
                max_size=high,
                instance_type=_instance_type(clients, group, region),
                cpu=cpu,
                recommendation=recommend(desired, low, high, cpu),
            )
        )
    return found


def _instance_type(clients: AwsClients, group: JsonDict, region: str) -> str | None:
    """The type most of the group's instances run, else the one its launch template or configuration names."""
    running = Counter(str(i["InstanceType"]) for i in group.get("Instances", []) if i.get("InstanceType"))
    if running:
        return running.most_common(1)[0][0]
    described = describe_asg(clients, str(group["AutoScalingGroupName"]), region)
    value = described.get("instance_type")
    return str(value) if value else None

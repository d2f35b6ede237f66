"""CPU utilisation over a window, from CloudWatch's AWS/EC2 CPUUtilization statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tools.base import AwsClients

NAMESPACE = "AWS/EC2"
METRIC = "CPUUtilization"
PERIOD_SECONDS = 3600  # 336 datapoints over 14 days, under GetMetricStatistics' 1,440 per call
DAY = 86400


@dataclass(frozen=True)
class CpuStats:
    """``average`` weighs each hour by its sample count; ``maximum`` is the highest sample."""

    average: float
    maximum: float
    samples: int


def cpu_stats(
    clients: AwsClients, region: str, dimension: str, value: str, now: float, days: int
) -> CpuStats | None:
    """CPU over the ``days`` before ``now`` for one dimension (InstanceId, AutoScalingGroupName);
    ``None`` when CloudWatch holds no datapoint in the window."""
    reply = clients.client("cloudwatch", region).get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=METRIC,
        Dimensions=[{"Name": dimension, "Value": value}],
        StartTime=datetime.fromtimestamp(now - days * DAY, UTC),
        EndTime=datetime.fromtimestamp(now, UTC),
        Period=PERIOD_SECONDS,
        Statistics=["Average", "Maximum", "SampleCount"],
    )
    points = reply.get("Datapoints", [])
    samples = sum(float(point["SampleCount"]) for point in points)
    if not points or samples <= 0:
        return None
    weighted = sum(float(point["Average"]) * float(point["SampleCount"]) for point in points)
    return CpuStats(
        average=round(weighted / samples, 2),
        maximum=round(max(float(point["Maximum"]) for point in points), 2),
        samples=int(samples),
    )

"""Service autoscaling: target tracking on CPU and on requests per target, optional schedules."""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref, Sub, Template
from troposphere import applicationautoscaling as aas

from stacks.common.template import target_group_full_name
from stacks.service.loadbalancer import LoadBalancing
from stacks.service.settings import Settings

# Scale out fast (a minute), scale in slowly (five): flapping costs more than a spare task.
SCALE_OUT_COOLDOWN = 60
SCALE_IN_COOLDOWN = 300


def _requests_per_target(lb: LoadBalancing) -> aas.CustomizedMetricSpecification:
    """Requests per target of whichever target group is live.

    The predefined ALBRequestCountPerTarget binds to one target group, and blue/green swaps
    the live group on every deployment, so it would watch the idle group half of the time.
    The sum over both groups (the idle one reports nothing, filled with 0) always tracks the
    live one.
    """
    queries = [
        aas.TargetTrackingMetricDataQuery(
            Id=f"m{index}",
            ReturnData=False,
            MetricStat=aas.TargetTrackingMetricStat(
                Metric=aas.TargetTrackingMetric(
                    Namespace="AWS/ApplicationELB",
                    MetricName="RequestCountPerTarget",
                    Dimensions=[
                        aas.TargetTrackingMetricDimension(
                            Name="TargetGroup", Value=target_group_full_name(Ref(group))
                        )
                    ],
                ),
                Stat="Sum",
            ),
        )
        for index, group in enumerate((lb.blue, lb.green))
    ]
    queries.append(
        aas.TargetTrackingMetricDataQuery(
            Id="requests", Expression="FILL(m0, 0) + FILL(m1, 0)", ReturnData=True
        )
    )
    return aas.CustomizedMetricSpecification(Metrics=queries)


def add_scaling(
    template: Template, settings: Settings, cluster: Any, service: Any, lb: LoadBalancing
) -> None:
    """A scalable target over the service's desired count and its two tracking policies."""
    scaling = settings.scaling
    target = template.add_resource(
        aas.ScalableTarget(
            "ScalableTarget",
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Sub(
                "service/${Cluster}/${Service}",
                Cluster=Ref(cluster),
                Service=GetAtt(service, "Name"),
            ),
            MinCapacity=scaling.min_count,
            MaxCapacity=scaling.max_count,
            ScheduledActions=[
                aas.ScheduledAction(
                    ScheduledActionName=action.name,
                    Schedule=action.schedule,
                    Timezone=action.timezone,
                    ScalableTargetAction=aas.ScalableTargetAction(
                        MinCapacity=action.min_count, MaxCapacity=action.max_count
                    ),
                )
                for action in scaling.scheduled
            ]
            or Ref("AWS::NoValue"),
        )
    )
    policies: dict[str, dict[str, Any]] = {
        "CpuScalingPolicy": {
            "PredefinedMetricSpecification": aas.PredefinedMetricSpecification(
                PredefinedMetricType="ECSServiceAverageCPUUtilization"
            ),
            "TargetValue": scaling.cpu_target_percent,
        },
        "RequestsScalingPolicy": {
            "CustomizedMetricSpecification": _requests_per_target(lb),
            "TargetValue": float(scaling.requests_per_target),
        },
    }
    for logical_id, spec in policies.items():
        template.add_resource(
            aas.ScalingPolicy(
                logical_id,
                PolicyName=Sub(f"${{AWS::StackName}}-{logical_id}"),
                PolicyType="TargetTrackingScaling",
                ScalingTargetId=Ref(target),
                TargetTrackingScalingPolicyConfiguration=aas.TargetTrackingScalingPolicyConfiguration(
                    ScaleOutCooldown=SCALE_OUT_COOLDOWN,
                    ScaleInCooldown=SCALE_IN_COOLDOWN,
                    **spec,
                ),
            )
        )

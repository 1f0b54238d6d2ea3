"""The ECS cluster and service with ECS-native blue/green (or canary/linear) deployments.

A deployment is a stack update with a new ``ImageUri``: ECS starts the new (green) tasks in the
alternate target group, shifts the production listener rule to them (all at once, canary or
linear), bakes, and rolls back on its own when the circuit breaker trips or an alarm fires.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref, Template, ecs

from stacks.common import iam
from stacks.common.alarms import Alarm, Metric, add_alarm
from stacks.common.template import load_balancer_full_name
from stacks.service.loadbalancer import CONTAINER_PORT, LoadBalancing
from stacks.service.settings import (
    ALARM_DATAPOINTS,
    ALARM_EVALUATION_PERIODS,
    ALARM_PERIOD_SECONDS,
    Canary,
    Linear,
    Settings,
)
from stacks.service.task import CONTAINER_NAME, Task

# The managed policy AWS provides for ECS to shift ALB listener rules during blue/green.
INFRASTRUCTURE_POLICY = "AmazonECSInfrastructureRolePolicyForLoadBalancers"


def add_cluster(template: Template, settings: Settings) -> ecs.Cluster:
    """A cluster with Container Insights (RunningTaskCount and friends for the alarms)."""
    return template.add_resource(
        ecs.Cluster(
            "Cluster",
            ClusterSettings=[
                ecs.ClusterSetting(Name="containerInsights", Value=settings.container_insights)
            ],
        )
    )


def deployment_alarms(template: Template, settings: Settings, lb: LoadBalancing) -> list[Any]:
    """Alarms that roll a deployment back: target 5xx and p99 latency at the load balancer.

    They watch the whole ALB (both target groups), so they see green as soon as it takes
    traffic, whichever group it is this time. Two of three minutes must breach: one bad
    minute does not roll back, a persistent problem does within ~3 minutes plus the metric
    delay; the settings model keeps bake time at least that long (MIN_BAKE_TIME_MINUTES).
    """
    dimensions = {"LoadBalancer": load_balancer_full_name(Ref(lb.load_balancer))}
    errors = add_alarm(
        template,
        "DeploymentTarget5xxAlarm",
        Alarm(
            description="deployment rollback: target 5xx responses per minute",
            metrics=[Metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dimensions)],
            threshold=settings.alarms.target_5xx_per_minute,
            period=ALARM_PERIOD_SECONDS,
            periods=ALARM_EVALUATION_PERIODS,
            datapoints=ALARM_DATAPOINTS,
        ),
    )
    latency = add_alarm(
        template,
        "DeploymentLatencyAlarm",
        Alarm(
            description="deployment rollback: p99 target response time (seconds)",
            metrics=[
                Metric("AWS/ApplicationELB", "TargetResponseTime", dimensions, statistic="p99")
            ],
            threshold=settings.alarms.p99_latency_seconds,
            period=ALARM_PERIOD_SECONDS,
            periods=ALARM_EVALUATION_PERIODS,
            datapoints=ALARM_DATAPOINTS,
        ),
    )
    return [errors, latency]


def _strategy(settings: Settings) -> dict[str, Any]:
    deployment = settings.deployment
    props: dict[str, Any] = {
        "Strategy": deployment.strategy,
        "BakeTimeInMinutes": deployment.bake_time_minutes,
    }
    if deployment.strategy == "CANARY":
        canary = deployment.canary or Canary()
        props["CanaryConfiguration"] = ecs.CanaryConfiguration(
            CanaryPercent=canary.percent, CanaryBakeTimeInMinutes=canary.bake_minutes
        )
    elif deployment.strategy == "LINEAR":
        linear = deployment.linear or Linear()
        props["LinearConfiguration"] = ecs.LinearConfiguration(
            StepPercent=linear.step_percent, StepBakeTimeInMinutes=linear.step_bake_minutes
        )
    return props


def add_service(
    template: Template,
    settings: Settings,
    *,
    cluster: ecs.Cluster,
    task: Task,
    lb: LoadBalancing,
    alarms: list[Any],
    private_subnets: Any,
) -> ecs.Service:
    """The Fargate service in private subnets, blue/green through the ALB's listener rules."""
    infrastructure = template.add_resource(
        iam.role(
            "EcsInfrastructureRole",
            "ecs.amazonaws.com",
            managed=[INFRASTRUCTURE_POLICY],
            source_account=False,
        )
    )
    return template.add_resource(
        ecs.Service(
            "Service",
            Cluster=Ref(cluster),
            TaskDefinition=Ref(task.definition),
            LaunchType="FARGATE",
            PlatformVersion="LATEST",
            DesiredCount=settings.desired_count,
            DeploymentController=ecs.DeploymentController(Type="ECS"),
            DeploymentConfiguration=ecs.DeploymentConfiguration(
                # Blue stays at full strength while green starts: no capacity dip.
                MaximumPercent=200,
                MinimumHealthyPercent=100,
                DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True),
                Alarms=ecs.DeploymentAlarms(
                    AlarmNames=[Ref(alarm) for alarm in alarms], Enable=True, Rollback=True
                ),
                **_strategy(settings),
            ),
            LoadBalancers=[
                ecs.LoadBalancer(
                    ContainerName=CONTAINER_NAME,
                    ContainerPort=CONTAINER_PORT,
                    TargetGroupArn=Ref(lb.blue),
                    AdvancedConfiguration=ecs.AdvancedConfiguration(
                        AlternateTargetGroupArn=Ref(lb.green),
                        ProductionListenerRule=Ref(lb.production_rule),
                        TestListenerRule=Ref(lb.test_rule),
                        RoleArn=GetAtt(infrastructure, "Arn"),
                    ),
                )
            ],
            NetworkConfiguration=ecs.NetworkConfiguration(
                AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                    AssignPublicIp="DISABLED",
                    Subnets=private_subnets,
                    SecurityGroups=[Ref(lb.task_security_group)],
                )
            ),
            # Time for the app to start before failing ALB health checks count against it.
            HealthCheckGracePeriodSeconds=settings.health_check_grace_period_seconds,
            PropagateTags="SERVICE",
            EnableECSManagedTags=True,
        )
    )

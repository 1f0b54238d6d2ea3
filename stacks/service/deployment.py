"""The ECS cluster and service with ECS-native blue/green (or canary/linear) deployments.

A deployment is a stack update with a new ``ImageUri``: ECS starts the new tasks in the target
group that does not serve production, shifts the production listener rule to them (all at once,
canary or linear), bakes, and rolls back on its own when the circuit breaker trips or an alarm
fires. The alarms judge the new version alone: they watch the group it starts in
(stacks/service/production.py says which one that is for this update).

The service has no ``DesiredCount``: autoscaling owns the task count. CloudFormation leaves an
unspecified desired count out of an update, and a new service starts with one task until the
scalable target's ``MinCapacity`` raises it to ``scaling.min_count``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html,
``DesiredCount``); a literal count would reset a scaled-out service on every deploy
(https://github.com/aws/containers-roadmap/issues/493).
"""

from __future__ import annotations

from math import ceil
from typing import Any

from troposphere import GetAtt, Ref, Template, cloudwatch, ecs

from stacks.common import iam
from stacks.common.alarms import Alarm, Metric, add_alarm
from stacks.common.template import load_balancer_full_name, target_group_full_name
from stacks.service import pace, production
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
ALB = "AWS/ApplicationELB"


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


def error_rate(min_requests: int) -> str:
    """Metric math: 5xx (``m0``) as a percentage of requests (``m1``) of one target group.

    0 while the group serves fewer than ``min_requests`` a period: too few to judge (and no
    division by zero when it serves none).
    """
    return f"IF(FILL(m1, 0) >= {min_requests}, 100 * FILL(m0, 0) / FILL(m1, 0), 0)"


def deployment_alarms(
    template: Template, settings: Settings, lb: LoadBalancing
) -> dict[str, list[cloudwatch.Alarm]]:
    """Per target group (``Blue``, ``Green``): the alarms that roll a deployment back.

    Each watches one group only, as a rate (5xx per request) and as p99 latency, so during a
    canary the new version is judged on its own traffic, neither diluted by nor blamed for the
    old version's. Two of three minutes must breach: one bad minute does not roll back, a
    persistent problem does within ~3 minutes plus the metric delay; the settings model keeps bake
    time at least that long (MIN_BAKE_TIME_MINUTES).
    """
    min_requests = ceil(settings.alarms.min_requests_per_minute * ALARM_PERIOD_SECONDS / 60)
    alarms: dict[str, list[cloudwatch.Alarm]] = {}
    for colour, group in zip(production.COLOURS, (lb.blue, lb.green), strict=True):
        dimensions = {
            "TargetGroup": target_group_full_name(Ref(group)),
            "LoadBalancer": load_balancer_full_name(Ref(lb.load_balancer)),
        }
        errors = Alarm(
            description=f"deployment rollback: {colour.lower()} target group 5xx, % of requests",
            metrics=[
                Metric(ALB, "HTTPCode_Target_5XX_Count", dimensions),
                Metric(ALB, "RequestCount", dimensions),
            ],
            expression=error_rate(min_requests),
            threshold=settings.alarms.error_rate_percent,
            period=ALARM_PERIOD_SECONDS,
            periods=ALARM_EVALUATION_PERIODS,
            datapoints=ALARM_DATAPOINTS,
        )
        latency = Alarm(
            description=f"deployment rollback: {colour.lower()} target group p99 response time (s)",
            metrics=[Metric(ALB, "TargetResponseTime", dimensions, statistic="p99")],
            threshold=settings.alarms.p99_latency_seconds,
            period=ALARM_PERIOD_SECONDS,
            periods=ALARM_EVALUATION_PERIODS,
            datapoints=ALARM_DATAPOINTS,
        )
        alarms[colour] = [
            add_alarm(template, f"Deployment{colour}ErrorRateAlarm", errors),
            add_alarm(template, f"Deployment{colour}LatencyAlarm", latency),
        ]
    return alarms


def _strategy(settings: Settings) -> dict[str, Any]:
    deployment = settings.deployment
    props: dict[str, Any] = {
        "Strategy": deployment.strategy,
        # Guarded or fast (stacks/service/pace.py): the alarms and circuit breaker stay either way.
        "BakeTimeInMinutes": pace.bake_minutes(deployment.bake_time_minutes),
    }
    if deployment.strategy == "CANARY":
        canary = deployment.canary or Canary()
        props["CanaryConfiguration"] = ecs.CanaryConfiguration(
            CanaryPercent=canary.percent,
            CanaryBakeTimeInMinutes=pace.step_bake_minutes(canary.bake_minutes),
        )
    elif deployment.strategy == "LINEAR":
        linear = deployment.linear or Linear()
        props["LinearConfiguration"] = ecs.LinearConfiguration(
            StepPercent=linear.step_percent,
            StepBakeTimeInMinutes=pace.step_bake_minutes(linear.step_bake_minutes),
        )
    return props


def add_service(
    template: Template,
    settings: Settings,
    *,
    cluster: ecs.Cluster,
    task: Task,
    lb: LoadBalancing,
    alarms: dict[str, list[cloudwatch.Alarm]],
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
            DeploymentController=ecs.DeploymentController(Type="ECS"),
            DeploymentConfiguration=ecs.DeploymentConfiguration(
                # Blue stays at full strength while green starts: no capacity dip.
                MaximumPercent=200,
                MinimumHealthyPercent=100,
                DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True),
                # The alarms of the group this update deploys to, not of the one serving now.
                Alarms=ecs.DeploymentAlarms(
                    AlarmNames=production.for_new(
                        [Ref(alarm) for alarm in alarms["Blue"]],
                        [Ref(alarm) for alarm in alarms["Green"]],
                    ),
                    Enable=True,
                    Rollback=True,
                ),
                **_strategy(settings),
            ),
            # The group serving production is the service's target group and the other its
            # alternate, for every update: ECS starts the new version in the alternate and does
            # not check the listener's live weights (aws/containers-roadmap#2853), so a fixed
            # blue/green pair would, after an odd number of deployments, deploy into the group
            # serving production (terraform-provider-aws#45678). docs/DEPLOYMENT.md says how to
            # confirm the alternation on the first two deployments.
            LoadBalancers=[
                ecs.LoadBalancer(
                    ContainerName=CONTAINER_NAME,
                    ContainerPort=CONTAINER_PORT,
                    TargetGroupArn=production.for_live(Ref(lb.blue), Ref(lb.green)),
                    AdvancedConfiguration=ecs.AdvancedConfiguration(
                        AlternateTargetGroupArn=production.for_new(Ref(lb.blue), Ref(lb.green)),
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

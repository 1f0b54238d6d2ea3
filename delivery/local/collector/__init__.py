"""A stand-in for the ADOT collector sidecar, for the emulator deploy (``--env local``).

The task definition's ``otel-collector`` container runs the AWS Distro for OpenTelemetry collector,
a Go program configured by the YAML text in its ``AOT_CONFIG_CONTENT`` variable. No image of it
can be run here and no Go toolchain can build one (the Go module proxy does not resolve from this
machine, and Debian's Go is older than the OpenTelemetry Collector Builder needs). So the local
runner starts this process in its place, from the same text the task definition holds:

- ``config``: reads the configuration and REFUSES, in one line, every component and setting it
  does not implement, so that a configuration it accepts uses only what it models;
- ``xray``: OTLP spans as the ``awsxray`` exporter translates them into X-Ray segment documents
  (with the ``aws_log_groups`` it names as each segment's ``aws.cloudwatch_logs``);
- ``emf``: a Prometheus scrape as the ``prometheus`` receiver reads it (family names as exposed:
  ``http_requests_total``), the ``cumulativetodelta`` processor converts the metrics it names
  (``initial_value`` keep or drop), and the ``awsemf`` exporter turns it into
  embedded-metric-format log events (cumulative counters as deltas, their first point retained
  with ``retain_initial_value_of_delta_metric``; ``metric_declarations`` choosing what CloudWatch
  extracts, with which dimension sets);
- ``server``: the process: the ``otlp`` (HTTP, protobuf) and ``prometheus`` receivers, the
  ``memory_limiter`` (read, and without effect: the stand-in's memory is not the sidecar's, it
  refuses nothing), ``cumulativetodelta`` and ``batch`` processors, the two exporters calling the
  emulator's PutTraceSegments and PutLogEvents, the ``health_check`` extension;
  ``python -m delivery.local.collector``;
- ``launch``: starting it next to the local service, with the task's container ports mapped to
  free ports on 127.0.0.1, and stopping it.

What it proves: the configuration the stack renders names only these components, wired into these
pipelines; the app, run with the task definition's environment, exports its spans to the address
the task definition gives it, and each request's trace id reaches X-Ray (the emulator's) in the
awsxray exporter's format, as it is in the access line; the app's /metrics, scraped at the
configured target, becomes EMF events in the configured namespace, log group and stream.

The configuration is the text ECS hands the container: the stack's ``Fn::Sub`` (the region, the
log groups' names) already filled in by CloudFormation (moto does it in the registered revision;
the template reader of delivery/local/task_definition.py does it when moto left that empty).

What it does not prove: that ADOT itself accepts the configuration (its own validation, its
version's defaults, feature gates); the memory limiter's effect (the collector's memory under
load); the exact segment and EMF documents of a given ADOT version
(the translation follows the exporters' sources, cited where it is done, not byte for byte); the
collector's CPU and memory under load, its retry and queueing; IAM (the emulator does not enforce
the task role); X-Ray's and CloudWatch's own processing of what arrives (service map, metric
extraction from EMF).
"""

"""OTLP spans as X-Ray segment documents, as the awsxray exporter translates them.

Follows the exporter's translator
(https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/exporter/awsxrayexporter/internal/translator,
segment.go, http.go, cause.go) for the fields a Flask request's spans carry: the X-Ray trace id
(``1-<first 8 hex>-<last 24 hex>`` of the W3C id, refused when its epoch is more than 28 days old
or 5 minutes ahead: convertToAmazonTraceID), id, parent_id, name (a server span's ``service.name``,
else ``peer.service``, the HTTP host, the span name with X-Ray's allowed characters), ``type:
subsegment`` and ``namespace: remote`` for a client span, start and end times, fault/error/throttle
(only for a span whose status is ERROR: 4xx is an error, 429 also a throttle, anything else a
fault), the ``http`` block from the old and the stable HTTP semantic conventions, the ``origin``
from the resource's cloud attributes, ``service.version``, and the remaining attributes as
``metadata.default`` (resource attributes prefixed ``otel.resource.``, on segments only) or
annotations (``indexed_attributes``), and of the ``aws`` block (aws.go, ``makeAws``) the
``cloudwatch_logs`` the exporter's ``aws_log_groups`` name, on every segment and subsegment (the
resource's ``aws.log.group.arns`` or ``aws.log.group.names``, when set, win). Not modelled: the
rest of the ``aws`` block (SDK and ECS details), ``cause`` with exception stack traces, SQL, span
links, the local-root splitting of ``aws.span.kind``: none of them decides where a trace id lands.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

log = logging.getLogger(__name__)

MAX_AGE_S = 28 * 24 * 3600  # the exporter's own margin under X-Ray's 30 days
MAX_SKEW_S = 5 * 60
MAX_NAME = 200
# X-Ray segment names: Unicode letters, numbers, whitespace and _ . : / % & # = + \ - @
_INVALID_NAME = re.compile(r"[^\w\s.:/%&#=+\\\-@]")
_ORIGINS = {
    "aws_app_runner": "AWS::AppRunner::Service",
    "aws_eks": "AWS::EKS::Container",
    "aws_elastic_beanstalk": "AWS::ElasticBeanstalk::Environment",
    "aws_ec2": "AWS::EC2::Instance",
}
# Attribute names of the old and the stable HTTP semantic conventions, by what they give.
_METHOD = ("http.method", "http.request.method")
_STATUS = ("http.status_code", "http.response.status_code")
_USER_AGENT = ("http.user_agent", "user_agent.original")
_CLIENT_IP = ("http.client_ip", "client.address")
_URL = ("http.url", "url.full")
_SCHEME = ("http.scheme", "url.scheme")
_HOST = ("http.host", "server.address", "http.server_name", "net.host.name")
_PORT = ("net.host.port", "server.port")
_TARGET = ("http.target",)
_PATH = ("url.path",)
_QUERY = ("url.query",)
_HTTP_KEYS = {
    *_METHOD,
    *_STATUS,
    *_USER_AGENT,
    *_CLIENT_IP,
    *_URL,
    *_SCHEME,
    *_HOST,
    *_PORT,
    *_TARGET,
    *_PATH,
    *_QUERY,
}


def value_of(value: AnyValue) -> Any:
    """An OTLP attribute value as a plain Python value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value_of(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(items: Any) -> dict[str, Any]:
    """OTLP key-values as a dict."""
    pairs: list[KeyValue] = list(items)
    return {pair.key: value_of(pair.value) for pair in pairs}


def xray_trace_id(trace_id: bytes, now: float | None = None) -> str | None:
    """The X-Ray form of a 16-byte W3C trace id; None when its epoch is out of X-Ray's range."""
    epoch = int.from_bytes(trace_id[:4], "big")
    delta = int(now if now is not None else time.time()) - epoch
    if delta > MAX_AGE_S or delta < -MAX_SKEW_S:
        return None
    hexed = trace_id.hex()
    return f"1-{hexed[:8]}-{hexed[8:]}"


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    return next((attrs[key] for key in keys if key in attrs), None)


def _url(attrs: Mapping[str, Any]) -> str | None:
    """The request URL as http.go's constructServerURL builds it."""
    full = _first(attrs, _URL)
    if full is not None:
        return str(full)
    host = _first(attrs, _HOST)
    if host is None:
        return None
    scheme = str(_first(attrs, _SCHEME) or "http")
    port = str(_first(attrs, _PORT) or "")
    url = f"{scheme}://{host}"
    if port and (scheme, port) not in (("http", "80"), ("https", "443")):
        url += f":{port}"
    target = _first(attrs, _TARGET)
    if target is None:
        path = _first(attrs, _PATH)
        query = _first(attrs, _QUERY)
        target = (str(path) + (f"?{query}" if query else "")) if path is not None else "/"
    return url + str(target)


def _http(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    request: dict[str, Any] = {}
    response: dict[str, Any] = {}
    if (method := _first(attrs, _METHOD)) is not None:
        request["method"] = str(method)
    if (agent := _first(attrs, _USER_AGENT)) is not None:
        request["user_agent"] = str(agent)
    if (client := _first(attrs, _CLIENT_IP)) is not None:
        request["client_ip"] = str(client)
        request["x_forwarded_for"] = True
    if (url := _url(attrs)) is not None:
        request["url"] = url
    if (status := _first(attrs, _STATUS)) is not None:
        response["status"] = int(status)
    if not request and not response:
        return None
    return {"request": request, "response": {**response, "content_length": 0}}


def _cause(span: Span, attrs: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    """(error, fault, throttle) as cause.go's makeCause decides them."""
    if span.status.code != Status.STATUS_CODE_ERROR:
        return False, False, False
    status = _first(attrs, _STATUS)
    code = int(status) if status is not None else 0
    if 400 <= code <= 499:
        return True, False, code == 429
    return False, True, False


def _name(span: Span, attrs: Mapping[str, Any], resource: Mapping[str, Any]) -> str:
    server = span.kind == Span.SPAN_KIND_SERVER
    for candidate in (
        attrs.get("aws.local.service") if server else None,
        attrs.get("peer.service"),
        resource.get("service.name") if server else None,
        attrs.get("rpc.service"),
        _first(attrs, ("http.host",)),
        attrs.get("net.peer.name"),
    ):
        if candidate:
            return str(candidate)
    name = _INVALID_NAME.sub("", span.name)[:MAX_NAME]
    return name or "span"


def _origin(resource: Mapping[str, Any]) -> str | None:
    if resource.get("cloud.provider", "aws") != "aws":
        return None
    platform = resource.get("cloud.platform")
    if platform == "aws_ecs":
        launch = resource.get("aws.ecs.launchtype")
        return {"fargate": "AWS::ECS::Fargate", "ec2": "AWS::ECS::EC2"}.get(
            str(launch), "AWS::ECS::Container"
        )
    return _ORIGINS.get(str(platform)) if platform else None


def _names(value: Any) -> list[str]:
    """normalizeToSlice: a list as it is, a string split at ``&`` (OTEL_RESOURCE_ATTRIBUTES)."""
    if isinstance(value, list):
        return [str(item) for item in value]
    return [item for item in str(value).split("&") if item] if isinstance(value, str) else []


def _cloudwatch_logs(
    resource: Mapping[str, Any], log_groups: tuple[str, ...]
) -> list[dict[str, str]]:
    """makeAws's log group metadata: from the resource's ARNs, else its names, else the
    exporter's ``aws_log_groups``."""
    if arns := _names(resource.get("aws.log.group.arns")):
        # The log group name is the ARN's 7th field (parseLogGroup).
        return [
            {"log_group": parts[6] if len(parts := arn.split(":")) >= 7 else arn, "arn": arn}
            for arn in arns
        ]
    names = _names(resource.get("aws.log.group.names")) or list(log_groups)
    return [{"log_group": name} for name in names]


def _fix_annotation_key(key: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c == ".") else "_" for c in key)


def _annotations_and_metadata(
    rest: Mapping[str, Any], indexed: tuple[str, ...], index_all: bool
) -> dict[str, Any]:
    """makeXRayAttributes: indexed scalar attributes as annotations, the rest as metadata."""
    annotations: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for key, value in rest.items():
        scalar = isinstance(value, str | int | float | bool)
        if scalar and (index_all or key in indexed):
            annotations[_fix_annotation_key(key)] = value
        else:
            metadata[key] = value
    found: dict[str, Any] = {}
    if annotations:
        found["annotations"] = annotations
    if metadata:
        found["metadata"] = {"default": metadata}
    return found


def segment(
    span: Span,
    resource: Mapping[str, Any],
    *,
    indexed: tuple[str, ...] = (),
    index_all: bool = False,
    log_groups: tuple[str, ...] = (),
    now: float | None = None,
) -> dict[str, Any] | None:
    """The segment document of ``span`` (None: the exporter drops it, its trace id too old)."""
    trace_id = xray_trace_id(span.trace_id, now)
    if trace_id is None:
        log.warning(
            f"dropped span {span.span_id.hex()}: trace id {span.trace_id.hex()} is out "
            "of X-Ray's time range"
        )
        return None
    attrs = attributes(span.attributes)
    is_segment = span.kind == Span.SPAN_KIND_SERVER or not span.parent_span_id
    error, fault, throttle = _cause(span, attrs)
    document: dict[str, Any] = {
        "id": span.span_id.hex(),
        "trace_id": trace_id,
        "name": _name(span, attrs, resource),
        "start_time": span.start_time_unix_nano / 1e9,
        "end_time": span.end_time_unix_nano / 1e9,
        "fault": fault,
        "error": error,
        "throttle": throttle,
    }
    if span.parent_span_id:
        document["parent_id"] = span.parent_span_id.hex()
    if not is_segment:
        document["type"] = "subsegment"
    if span.kind == Span.SPAN_KIND_CLIENT:
        document["namespace"] = "remote"
    # makeAws returns no aws block for a resource of another cloud.
    if resource.get("cloud.provider", "aws") == "aws" and (
        logs := _cloudwatch_logs(resource, log_groups)
    ):
        document["aws"] = {"cloudwatch_logs": logs}
    if (origin := _origin(resource)) is not None:
        document["origin"] = origin
    if (http := _http(attrs)) is not None:
        document["http"] = http
    if "service.version" in resource:
        document["service"] = {"version": str(resource["service.version"])}
    if "enduser.id" in attrs:
        document["user"] = str(attrs.pop("enduser.id"))
    rest = {k: v for k, v in attrs.items() if k not in _HTTP_KEYS}
    if is_segment:  # the resource is stored on segments only (the local root)
        rest |= {f"otel.resource.{k}": v for k, v in resource.items()}
    document |= _annotations_and_metadata(rest, indexed, index_all)
    return document


def spans(request: ExportTraceServiceRequest) -> Iterator[tuple[dict[str, Any], Span]]:
    """Every span of an OTLP export request, with its resource's attributes."""
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield resource, span


def documents(
    found: Iterable[tuple[Mapping[str, Any], Span]],
    *,
    indexed: tuple[str, ...] = (),
    index_all: bool = False,
    log_groups: tuple[str, ...] = (),
    now: float | None = None,
) -> list[str]:
    """The segment documents (JSON text) of these spans; the ones the exporter drops left out."""
    made = (
        segment(
            span, resource, indexed=indexed, index_all=index_all, log_groups=log_groups, now=now
        )
        for resource, span in found
    )
    return [json.dumps(document, separators=(",", ":")) for document in made if document]


def segments(
    request: ExportTraceServiceRequest,
    *,
    indexed: tuple[str, ...] = (),
    index_all: bool = False,
    log_groups: tuple[str, ...] = (),
    now: float | None = None,
) -> list[str]:
    """Every span of an OTLP export request as a segment document (JSON text)."""
    return documents(
        spans(request), indexed=indexed, index_all=index_all, log_groups=log_groups, now=now
    )

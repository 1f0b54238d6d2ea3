"""The stand-in collector process: receivers, batch processors, exporters, health check.

Every address the configuration names is a container address in the task's network (awsvpc:
the containers share ``localhost``); ``ports`` maps each container port to the free port on
127.0.0.1 that stands for it here, the collector's own and the app's alike. Nothing listens
beyond 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from delivery import loopback
from delivery.errors import DeliveryError
from delivery.local.collector import emf, xray
from delivery.local.collector.config import (
    Address,
    Batch,
    CollectorConfig,
    EmfExporter,
    Pipeline,
    ScrapeJob,
    XRayExporter,
)
from delivery.local.log_shipping import ship

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
TRACES_PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"
# The awsxray exporter's maxSegmentsPerPut: PutTraceSegments calls of at most 50 documents.
SEGMENTS_PER_PUT = 50
# The container addresses the config names, mapped to 127.0.0.1 here (nothing binds them).
_LOOPBACK = ("localhost", "127.0.0.1", "0.0.0.0")  # noqa: S104  # nosec B104


def mapped(address: Address, ports: Mapping[int, int]) -> tuple[str, int]:
    """Where a container address of the task's network is on this machine; one line if nowhere."""
    if address.host not in _LOOPBACK:
        raise DeliveryError(
            f"collector address {address}: only the task's own addresses (localhost, 0.0.0.0) "
            "can be mapped here"
        )
    if address.port not in ports:
        raise DeliveryError(
            f"collector address {address}: port {address.port} is no port of the task's "
            f"containers here (known: {', '.join(str(p) for p in sorted(ports))})"
        )
    return HOST, ports[address.port]


@dataclass
class Batcher:
    """The batch processor: items go on when ``send_batch_size`` is reached or at ``timeout``."""

    settings: Batch
    send: Callable[[list[Any]], None]
    _items: list[Any] = field(default_factory=list, init=False)
    _ready: threading.Condition = field(default_factory=threading.Condition, init=False)
    _stopping: bool = field(default=False, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def start(self) -> Batcher:
        """Run its timer."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def add(self, items: Sequence[Any]) -> None:
        """Queue ``items``; a full batch goes at once."""
        with self._ready:
            self._items.extend(items)
            if len(self._items) >= self.settings.send_batch_size:
                self._ready.notify()

    def _take(self) -> list[Any]:
        limit = self.settings.send_batch_max_size or len(self._items)
        taken, self._items = self._items[:limit], self._items[limit:]
        return taken

    def _run(self) -> None:
        while True:
            with self._ready:
                self._ready.wait(self.settings.timeout_s)
                taken = self._take()
                stopping = self._stopping
            if taken:
                self._deliver(taken)
            if stopping:
                return

    def _deliver(self, items: list[Any]) -> None:
        try:
            self.send(items)
        except (DeliveryError, ClientError, BotoCoreError) as exc:
            log.error(f"export of {len(items)} item(s) failed: {exc}")

    def stop(self) -> None:
        """Send what is queued, as the collector does at shutdown."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._ready:
            rest, self._items = self._items, []
        while rest:
            self._deliver(rest[: self.settings.send_batch_max_size or len(rest)])
            rest = rest[self.settings.send_batch_max_size or len(rest) :]


def xray_sender(exporter: XRayExporter, region: str) -> Callable[[list[Any]], None]:
    """The awsxray exporter: spans (with their resources) as segment documents, in
    PutTraceSegments calls of at most SEGMENTS_PER_PUT documents."""
    client: Any = boto3.client("xray", region_name=exporter.region or region)

    def send(spans: list[Any]) -> None:
        documents = xray.documents(
            spans,
            indexed=exporter.indexed_attributes,
            index_all=exporter.index_all_attributes,
            log_groups=exporter.aws_log_groups,
        )
        for start in range(0, len(documents), SEGMENTS_PER_PUT):
            chunk = documents[start : start + SEGMENTS_PER_PUT]
            answer = client.put_trace_segments(TraceSegmentDocuments=chunk)
            for bad in answer.get("UnprocessedTraceSegments", []):
                log.error(f"awsxray: X-Ray refused segment {bad.get('Id')}: {bad.get('Message')}")
            log.info(f"awsxray: {len(chunk)} segment(s) put")

    return send


def emf_sender(exporter: EmfExporter, region: str) -> Callable[[list[Any]], None]:
    """The awsemf exporter's calls: PutLogEvents of the EMF events into its group and stream
    (cumulative sums made deltas first, as the exporter does)."""
    deltas = emf.Deltas(exporter.retain_initial_value_of_delta_metric)

    def send(found: list[Any]) -> None:
        made = emf.events(deltas.adjust(found), exporter)
        lines = [json.dumps(event, separators=(",", ":")) for event in made]
        shipped = ship(
            lines,
            group=exporter.log_group_name,
            stream=exporter.log_stream_name,
            region=exporter.region or region,
        )
        log.info(f"awsemf: {shipped} EMF event(s) put in {exporter.log_group_name}")

    return send


@dataclass
class Collector:
    """The running stand-in: ``start`` it, ``stop`` it (queued data is sent first)."""

    config: CollectorConfig
    ports: Mapping[int, int]
    region: str
    _servers: list[ThreadingHTTPServer] = field(default_factory=list, init=False)
    _batchers: list[Batcher] = field(default_factory=list, init=False)
    _stopped: threading.Event = field(default_factory=threading.Event, init=False)
    # receiver id -> where its data goes (the first processor's batcher, or the exporters)
    _entries: dict[str, list[Callable[[list[Any]], None]]] = field(default_factory=dict, init=False)
    started: float = field(default_factory=time.time, init=False)

    def start(self) -> Collector:
        """Wire the pipelines, then open the receivers and the health check."""
        for pipeline in self.config.pipelines:
            self._wire(pipeline)
        for receiver, address in self.config.otlp.items():
            self._serve(address, self._otlp_handler(receiver))
        for address in self.config.health_check.values():
            self._serve(address, self._health_handler())
        for receiver, jobs in self.config.prometheus.items():
            for job in jobs:
                for target in job.targets:
                    thread = threading.Thread(
                        target=self._scrape_loop, args=(receiver, job, target), daemon=True
                    )
                    thread.start()
        return self

    def _wire(self, pipeline: Pipeline) -> None:
        senders: list[Callable[[list[Any]], None]] = []
        for exporter in pipeline.exporters:
            if exporter in self.config.awsxray:
                senders.append(xray_sender(self.config.awsxray[exporter], self.region))
            else:
                senders.append(emf_sender(self.config.awsemf[exporter], self.region))

        def fan_out(items: list[Any]) -> None:
            for send in senders:
                send(items)

        entry: Callable[[list[Any]], None] = fan_out
        # Processors in reverse: each one's output is the next one's input.
        for processor in reversed(pipeline.processors):
            entry = self._processor(processor, entry)
        for receiver in pipeline.receivers:
            self._entries.setdefault(receiver, []).append(entry)

    def _processor(
        self, processor: str, then: Callable[[list[Any]], None]
    ) -> Callable[[list[Any]], None]:
        """The entry of ``processor`` (one instance per pipeline, as the collector makes them),
        handing its output to ``then``."""
        if processor in self.config.batch:
            batcher = Batcher(self.config.batch[processor], then).start()
            self._batchers.append(batcher)
            return batcher.add
        if processor in self.config.cumulativetodelta:
            converter = emf.CumulativeToDelta(self.config.cumulativetodelta[processor])
            return lambda items: then(converter.process(items))
        # memory_limiter: the stand-in's memory is not the sidecar's; it refuses nothing here.
        return then

    def _serve(self, address: Address, handler: type[BaseHTTPRequestHandler]) -> None:
        server = ThreadingHTTPServer(mapped(address, self.ports), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._servers.append(server)
        log.info(f"listening on {HOST}:{server.server_address[1]} for {address}")

    def receive(self, receiver: str, items: list[Any]) -> None:
        """Hand what ``receiver`` got to each pipeline it feeds."""
        for entry in self._entries.get(receiver, []):
            entry(items)

    def _otlp_handler(self, receiver: str) -> type[BaseHTTPRequestHandler]:
        collector = self

        class Otlp(_Quiet):
            def do_POST(self) -> None:
                if self.path != TRACES_PATH:
                    self._answer(404, b"", "text/plain")
                    return
                if self.headers.get("Content-Type", "").split(";")[0].strip() != PROTOBUF:
                    # The contract's exporter sends protobuf; the JSON encoding is not modelled.
                    self._answer(415, b"only application/x-protobuf is modelled", "text/plain")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding", "") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                try:
                    request.ParseFromString(body)
                except DecodeError:
                    self._answer(400, b"not an ExportTraceServiceRequest", "text/plain")
                    return
                # The batch processor counts spans; each exporter translates them its own way.
                collector.receive(receiver, list(xray.spans(request)))
                self._answer(200, ExportTraceServiceResponse().SerializeToString(), PROTOBUF)

        return Otlp

    def _health_handler(self) -> type[BaseHTTPRequestHandler]:
        collector = self

        class Health(_Quiet):
            def do_GET(self) -> None:
                up = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(collector.started))
                body = {"status": "Server available", "upSince": up}
                self._answer(200, json.dumps(body).encode(), "application/json")

        return Health

    def scrape(self, receiver: str, job: ScrapeJob, target: Address) -> int:
        """One scrape of ``target`` into the receiver's pipelines; the points it gave."""
        host, port = mapped(target, self.ports)
        status, body = loopback.get(f"http://{host}:{port}{job.metrics_path}", job.timeout_s)
        if status != 200:
            log.warning(f"prometheus: scrape of {target}{job.metrics_path} answered {status}")
            return 0
        found = emf.points(body.decode(errors="replace"), int(time.time() * 1000))
        self.receive(receiver, list(found))
        return len(found)

    def _scrape_loop(self, receiver: str, job: ScrapeJob, target: Address) -> None:
        while not self._stopped.is_set():
            try:
                self.scrape(receiver, job, target)
            except DeliveryError as exc:
                log.error(f"prometheus: {exc}")
            self._stopped.wait(job.interval_s)

    def stop(self) -> None:
        """Close the receivers, then send what the batch processors hold."""
        self._stopped.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for batcher in self._batchers:
            batcher.stop()


class _Quiet(BaseHTTPRequestHandler):
    """A handler that answers in one call and logs through ``logging`` at debug level."""

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format % args)

"""CloudWatch Logs' PutLogEvents limits: what the local log shipping keeps to, and the emulator
enforces (delivery/strict_moto.py). No imports: the emulator's server reads it at start.

https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html: a
batch holds at most 10,000 events and 1,048,576 bytes (each message's UTF-8 bytes plus 26), in
chronological order, spanning at most 24 hours; an event is at most 256 KB (the figure older
regions' pages still give; newer pages say 1 MB: the smaller one holds everywhere); a message is
never empty (``InputLogEvent.message``: minimum length 1).
"""

from __future__ import annotations

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES  # as Docker's awslogs driver cuts events
MAX_SPAN_MS = 24 * 3600 * 1000

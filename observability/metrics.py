"""Every metric the service exports, named by Prometheus's conventions.

Declared once here, in the default registry, so a worker's and the API's `/metrics` show
the same names wherever a metric is counted. Labels are small fixed sets (a topic, a
format, an outcome), never a job id or a free-text reason: each label value is a series.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONSUMER_LAG = Gauge(
    "export_consumer_lag_messages",
    "Messages on a partition not yet committed by a consumer group.",
    ["group", "topic", "partition"],
)
SECONDS_SINCE_HANDOVER = Gauge(
    "export_partition_seconds_since_handover",
    "Seconds since a partition last handed a message to its agent in this worker.",
    ["topic", "partition"],
)
STALLS_DETECTED = Counter(
    "export_partition_stalls_detected_total",
    "Partitions found with unread messages and nothing handed over for the stall interval.",
    ["topic"],
)
STALLS_HEALED = Counter(
    "export_partition_stalls_healed_total",
    "Stalled partitions that handed a message over again after being read again.",
    ["topic"],
)
SLOW_HANDLERS = Counter(
    "export_agent_slow_handlings_total",
    "Messages an agent took longer than the stall interval to handle (its partitions waited).",
    ["agent"],
)
READERS_REMADE = Counter(
    "export_topic_readers_remade_total",
    "Whole-topic readers (limits, stop signals, job feed) found behind the broker without "
    "moving, and made again.",
    ["topic"],
)
LIMITS_NOT_CURRENT = Counter(
    "export_limits_not_current_total",
    "Quota checks made before this worker's copy of the limits could be shown current.",
)
DEAD_LETTERS = Counter(
    "export_dead_letters_total",
    "Messages sent to the dead-letter topic, by source topic and kind of reason.",
    ["topic", "reason"],
)
EXPORTS_FINISHED = Counter(
    "export_exports_finished_total",
    "Exports that reached a final status.",
    ["status"],
)
ROWS_EXTRACTED = Counter(
    "export_rows_extracted_total",
    "Rows written to export files, by format.",
    ["format"],
)
COPY_STREAMS = Counter(
    "export_copy_streams_total",
    "COPY streams that read CSV and JSON chunks: one per chunk, more where a chunk was cut"
    " into segments read at the same time.",
)
CHUNK_DURATION = Histogram(
    "export_chunk_duration_seconds",
    "Time to extract one chunk, from its start to its last file stored.",
    ["format"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
DELIVERY_ATTEMPTS = Counter(
    "export_delivery_attempts_total",
    "Delivery attempts, by method and outcome (delivered, failed_transient, failed_permanent).",
    ["method", "outcome"],
)
QUOTA_REJECTIONS = Counter(
    "export_quota_rejections_total",
    "Export requests refused by a quota, by the limit that refused them.",
    ["limit"],
)
HTTP_REQUESTS = Counter(
    "export_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "export_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
)

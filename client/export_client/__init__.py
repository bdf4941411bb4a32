"""Clients of the export service: over Kafka for other services (`ExportClient`), and over
its HTTP API (`ExportApi`, which `exportctl` uses)."""

from export_client.api_client import ApiError, ApiUnreachable, ChecksumMismatch, ExportApi
from export_client.kafka_client import CompletionTimeout, ExportClient

__all__ = [
    "ApiError",
    "ApiUnreachable",
    "ChecksumMismatch",
    "CompletionTimeout",
    "ExportApi",
    "ExportClient",
]

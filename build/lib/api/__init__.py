"""The read-model HTTP API: submit, list, inspect, download and cancel exports."""

"""What operators see of a running process: metrics, health and structured logs."""

"""Monitoring at the edge of the kernel: metrics, health, logs and alert delivery."""

"""What operators run and call: the background worker and its schedule, the probes, the metrics."""

"""Real third-party servers (Prometheus, ...) started as processes for tests and demos."""

"""Offline, seeded benchmarks of launchdeck's judges against other canary-analysis methods."""

"""Notification channels: where rendered messages go."""

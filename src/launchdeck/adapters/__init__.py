"""The outside world: one small Protocol per concern, one module per product."""

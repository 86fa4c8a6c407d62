"""launchdeck runs release runbooks: it moves traffic, judges canaries, asks people, tells everyone and keeps signed evidence."""

__version__ = "0.1.0"
__all__ = ["__version__"]

"""The store's default URL, importable without SQLAlchemy (the CLI's help must start fast)."""

DEFAULT_URL = "sqlite:///launchdeck.db"

"""Release state, decisions, sign-offs and outbox in SQL (SQLite by default, PostgreSQL for teams)."""

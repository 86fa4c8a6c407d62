"""`launchdeck server`: the REST API (``/api/v1``), event streams, GraphQL, health and metrics, on FastAPI.

One module per concern: ``app`` (the factory), ``auth`` (tokens and API roles), ``problems`` (RFC 9457
errors), ``schemas`` (bodies), ``routes_plans``, ``routes_releases`` (reads), ``routes_actions`` (start,
sign off, kill…), ``events`` (SSE), ``graphql``, ``metrics``. Handlers are thin adapters over
``launchdeck.services``.
"""

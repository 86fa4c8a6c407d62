"""The pure decision engine: time and observations in, decisions with reasons out.

Nothing here reads a clock, does I/O or draws random numbers; it imports nothing from the rest
of launchdeck.
"""

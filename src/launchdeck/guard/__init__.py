"""Guard rails per tenant, as pure rules: locked SLOs and plan limits compared with a plan, budget
thresholds and their forecast, multiwindow burn-rate alerts, autonomy tiers and safety figures.

Like ``core`` and ``runbook``, nothing here reads a clock, a file or a database: time and
observations come in as arguments, decisions go out with the reason a person reads.
"""

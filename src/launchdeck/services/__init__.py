"""What the command line and the API both do, once: people's actions on a release (``actions``), the
objects that describe a release (``reading``, light enough for the CLI's start-up, and ``details``),
registered plans (``plans``) and submitting a release (``submitting``).

Each function takes the ``Store`` and plain values and raises the error tree's ``NotFound``,
``Refused``, ``Conflict`` or ``UsageError``; the CLI prints them, the server answers them as
problem documents. Neither adapter holds a rule of its own.
"""

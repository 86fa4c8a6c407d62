"""The plan's command hooks: a ``command`` router (``target.router.commands``) and rollback steps that run
a command (``rollback.steps[]`` with ``run``), so any platform with a CLI can be driven and verified.

Commands run without a shell unless ``shell: true``: the text is split like a shell would
(``shlex``) and each ``{{placeholder}}`` is filled in inside its argument, so a value can never become
another argument or a second command. Timeouts are wall-clock time, like preflight checks': a time
scale does not shorten how long a real platform takes.
"""

from pydantic import Field

from launchdeck.plan.fields import Duration, Model

#: Placeholders every command may use, and those a router's commands add.
STEP_PLACEHOLDERS = ("version", "previousVersion", "release")
ROUTER_PLACEHOLDERS = (*STEP_PLACEHOLDERS, "weight", "stableWeight")
STEP_NAME = r"^[a-z0-9][a-z0-9._-]*$"


class CommandsSpec(Model):
    """The commands of a ``command`` router."""

    set: str
    read: str
    parse: str | None = None
    kill: str | None = None
    drain: str | None = None
    timeout: Duration = 30.0
    shell: bool = False
    secret_env: list[str] = []


class RunStepSpec(Model):
    """A rollback step that runs a command (a database point-in-time restore, a cache flush)."""

    name: str = Field(pattern=STEP_NAME)
    run: str
    verify: str | None = None
    timeout: Duration = 300.0
    retries: int = Field(default=0, ge=0, le=10)
    shell: bool = False
    secret_env: list[str] = []

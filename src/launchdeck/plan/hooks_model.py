"""The plan's command hooks: a ``command`` router (``target.router.commands``) and rollback steps that run
a command (``rollback.steps[]`` with ``run``), so any platform with a CLI can be driven and verified; and
a stage's load test (``stages[].loadTest``), run or read with the ecosystem's own tools.

Commands run without a shell unless ``shell: true``: the text is split like a shell would
(``shlex``) and each ``{{placeholder}}`` is filled in inside its argument, so a value can never become
another argument or a second command. Timeouts are wall-clock time, like preflight checks': a time
scale does not shorten how long a real platform takes.
"""

from pydantic import Field, model_validator

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


class LoadTestSpec(Model):
    """A stage's load test: Locust run headless with the plan's locustfile against the target, or the
    summary of a k6 run made elsewhere. Its results go into the evidence and are what ``source: loadtest``
    gates judge."""

    locust: str | None = None
    k6: str | None = None
    host: str | None = None
    users: int = Field(default=10, ge=1, le=10000)
    spawn_rate: float = Field(default=10.0, gt=0)
    duration: Duration = 10.0

    @model_validator(mode="after")
    def _one_tool(self) -> "LoadTestSpec":
        if (self.locust is None) == (self.k6 is None):
            raise ValueError("a load test needs exactly one of `locust` (a locustfile to run) or `k6` (the summary "
                             "JSON of a k6 run); write locust: locustfile.py or k6: k6-summary.json")
        return self

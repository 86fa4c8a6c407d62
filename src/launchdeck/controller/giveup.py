"""Telling people that the workers gave a release up: nothing drives it any more, so whoever its plan
routes `escalation` messages to gets one now, with the last failure and the command that hands the
release back. The message goes through the release's outbox like every other, and is delivered at
once: no driver is left to deliver it later (a refused channel keeps it queued for `messages flush`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from launchdeck.controller.messages import Dispatcher, iso
from launchdeck.controller.outbox import flush_release, release_spec
from launchdeck.core.engine import Decision
from launchdeck.errors import LaunchdeckError
from launchdeck.plan import LoadedPlan
from launchdeck.store.repo import Store, StoredRelease

log = logging.getLogger("launchdeck.worker")


def resume_command(release: str) -> str:
    return f"launchdeck resume {release} --role ROLE --as NAME"


async def tell(store: Store, found: StoredRelease, plan: LoadedPlan, workdir: Path) -> int:
    """Queue and deliver the `escalation` message about ``found`` (given up) on the plan's routes for it;
    the number of messages queued (0: the plan routes none, or it is a train's own release)."""
    if plan.is_train and found.name == plan.name:
        return 0  # a train's own release: its services' plans say whom to tell, each for itself
    try:
        spec = release_spec(plan, found.name)
        md = plan.doc.metadata
        engine = found.state.get("engine", {})
        reason = (f"the workers gave {found.name} up after {found.drive_failures} failed attempts in a row (the "
                  f"last: {found.drive_error}); nothing drives it now. Fix the cause, then "
                  f"`{resume_command(found.name)}`")
        decision = Decision(at=found.plan_clock, kind="driving.gave_up", reason=reason, event="escalation")
        context = {"release": found.name, "tenant": found.tenant, "service": md.service, "version": md.version,
                   "previous_version": md.previous_version, "stage": int(engine.get("stage", 0)) + 1,
                   "stages": len(spec.stages), "weight": float(engine.get("weight", 0.0)), "at": iso(),
                   "started_at": found.state.get("startedAt"), "command": resume_command(found.name)}
        messages = Dispatcher(spec, workdir=workdir, release=found.name).compose([decision], context)
        if not messages:
            return 0
        store.add_messages(release_id=found.id, messages=messages)
        await flush_release(store=store, release=found, plan=plan, workdir=workdir)
    except LaunchdeckError as e:  # told in the log at least; what was queued stays for `messages flush`
        log.warning("release %s: could not tell its people it was given up: %s", found.name, e.message)
        return 0
    return len(messages)

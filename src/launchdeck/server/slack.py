"""The Slack app's endpoint: ``POST /slack/commands`` (slash commands) and ``POST /slack/interactions`` (button
clicks). A thin adapter: it checks that Slack signed the request, answers at once (Slack's 3-second rule),
then carries the command out through ``chat.commands`` (the same services as the API) and posts the answer
to the request's ``response_url``.

Signatures: slack-sdk's ``SignatureVerifier`` over the raw body with the app's signing secret
(``LAUNCHDECK_SLACK_SIGNING_SECRET``): ``v0=`` HMAC-SHA256 of ``v0:<timestamp>:<body>``, refused when the
timestamp is more than 5 minutes from now. A forged, replayed or unsigned request gets 401 and is logged
with its path and why, never its content. Without a signing secret both endpoints answer 503.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import JSONResponse
from slack_sdk.signature import SignatureVerifier

from launchdeck.adapters.notify import slack_blocks
from launchdeck.chat import commands, grammar
from launchdeck.server import problems

log = logging.getLogger("launchdeck.server")
router = APIRouter(prefix="/slack", tags=["slack"], include_in_schema=False)
SIGNING_SECRET_ENV = "LAUNCHDECK_SLACK_SIGNING_SECRET"
#: The largest body Slack sends a slash command or a click with (a block_actions payload with its message).
MAX_BODY = 200_000


def signing_secret(request: Request) -> str | None:
    configured = getattr(request.app.state, "slack_signing_secret", None)
    return configured or os.environ.get(SIGNING_SECRET_ENV) or None


async def _verified(request: Request) -> tuple[bytes, Response | None]:
    """The raw body, or the refusal to answer with (401 unsigned/forged/replayed, 503 not configured)."""
    secret = signing_secret(request)
    if not secret:
        return b"", problems.problem(503, "slack-not-configured", "The Slack app is not configured",
                                     f"this server has no Slack signing secret ({SIGNING_SECRET_ENV})",
                                     hint=f"export {SIGNING_SECRET_ENV} (the app's Basic Information page) and restart")
    body = await request.body()
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    why = None
    if not timestamp or not signature:
        why = "unsigned"
    elif len(body) > MAX_BODY:
        why = "too large"
    elif not SignatureVerifier(secret).is_valid(body, timestamp, signature):
        why = "bad signature or a timestamp outside 5 minutes"
    if why:
        log.warning("refused a Slack request to %s: %s", request.url.path, why)
        return body, problems.problem(401, "slack-signature", "Not signed by Slack",
                                      "the request is not signed with this app's signing secret, or is too old",
                                      hint="Slack signs every request; a replay older than 5 minutes is refused")
    return body, None


def _caller(request: Request, team: str, channel: str, user: str) -> commands.Caller | commands.Answer:
    return commands.identify(request.app.state.store, team=team, channel=channel, user=user)


@router.post("/commands")
async def slash_command(request: Request, background: BackgroundTasks) -> Response:
    """A slash command (``/launchdeck …``, ``/approve …``): acknowledged at once, answered via response_url."""
    body, refused = await _verified(request)
    if refused:
        return refused
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    response_url = form.get("response_url", "")
    parsed = grammar.parse(form.get("command", "/launchdeck"), form.get("text", ""))
    background.add_task(_answer_command, request, form, parsed, response_url)
    return JSONResponse({"response_type": "ephemeral", "text": "launchdeck is on it…"})


def _answer_command(request: Request, form: dict[str, str], parsed: grammar.Command, response_url: str) -> None:
    caller = _caller(request, form.get("team_id", ""), form.get("channel_id", ""), form.get("user_id", ""))
    if isinstance(caller, commands.Answer):
        answer = caller
    else:
        answer = commands.run(request.app.state.store, caller, parsed, data_dir=request.app.state.data_dir)
    _respond(response_url, {"response_type": "in_channel" if answer.public else "ephemeral", "text": answer.text})


@router.post("/interactions")
async def interaction(request: Request, background: BackgroundTasks) -> Response:
    """A button click (``block_actions``): acknowledged at once; the message is then replaced with who did what."""
    body, refused = await _verified(request)
    if refused:
        return refused
    try:
        payload = json.loads(parse_qs(body.decode("utf-8", "replace")).get("payload", ["{}"])[0])
        action = payload["actions"][0]
        team, user = payload["team"]["id"], payload["user"]["id"]
        channel = (payload.get("channel") or {}).get("id", "")
    except (ValueError, KeyError, IndexError, TypeError):
        return problems.problem(400, "slack-payload", "Not a Slack interaction",
                                "the body has no block_actions payload with an action, a team and a user")
    background.add_task(_answer_click, request, payload, action, team, channel, user)
    return Response(status_code=200)


def _answer_click(request: Request, payload: dict[str, Any], action: dict[str, Any], team: str, channel: str,
                  user: str) -> None:
    response_url = payload.get("response_url", "")
    caller = _caller(request, team, channel, user)
    if isinstance(caller, commands.Answer):
        _respond(response_url, {"response_type": "ephemeral", "replace_original": False, "text": caller.text})
        return
    store, release = request.app.state.store, str(action.get("value", ""))
    kind = action.get("action_id")
    if kind == slack_blocks.SIGN_OFF:
        answer = _safely(lambda: commands.sign_off_waiting(store, caller, release))
    elif kind in (slack_blocks.CONTINUE, slack_blocks.ROLL_BACK):
        decision = "continue" if kind == slack_blocks.CONTINUE else "rollback"
        answer = _safely(lambda: commands.decide(store, caller, release, decision))
    else:
        answer = commands.Answer(f"launchdeck has no button '{kind}'", ok=False)
    if not answer.ok:
        _respond(response_url, {"response_type": "ephemeral", "replace_original": False, "text": answer.text})
        return
    original = (payload.get("message") or {}).get("text", "")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    outcome = f"{action.get('text', {}).get('text', kind)} by {caller.person} (<@{user}>) at {when}: {answer.text}"
    _respond(response_url, {"replace_original": True, "text": f"{original}\n{outcome}".strip(),
                            "blocks": slack_blocks.answered(original, outcome)})


def _safely(act: Any) -> commands.Answer:
    from launchdeck.errors import LaunchdeckError

    try:
        return act()  # type: ignore[no-any-return]
    except LaunchdeckError as e:
        return commands.Answer(f"refused: {e.message}" + (f"\n{e.hint}" if e.hint else ""), ok=False)


def _respond(response_url: str, body: dict[str, Any]) -> None:
    """Post the answer where Slack said to; a failure is logged (the person sees no answer, nothing is lost)."""
    if not response_url.startswith(("https://", "http://")):
        log.warning("a Slack request came without a usable response_url; its answer is dropped")
        return
    try:
        answered = httpx.post(response_url, json=body, timeout=10)
        if not answered.is_success:
            log.warning("Slack refused an answer at its response_url: HTTP %s", answered.status_code)
    except httpx.HTTPError as e:
        log.warning("could not answer Slack at its response_url: %s", type(e).__name__)

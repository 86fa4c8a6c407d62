"""Block Kit for launchdeck's Slack messages: the text as a section, and, on a message that announces an
open sign-off, decision window or hold, the buttons that answer it (Sign off / Continue / Roll back).

A button's ``action_id`` names the action and its ``value`` the release; the Slack app endpoint
(``server.slack``) turns a click into the same service call as the matching command, and the message
is then replaced with :func:`answered` (who did what, when) so nobody clicks twice.
"""

from __future__ import annotations

from typing import Any

SIGN_OFF, CONTINUE, ROLL_BACK = "launchdeck.signoff", "launchdeck.continue", "launchdeck.rollback"
#: Which buttons a message of each event carries.
BUTTONS: dict[str, tuple[str, ...]] = {
    "approval.requested": (SIGN_OFF,),
    "decision.requested": (CONTINUE, ROLL_BACK),
    "hold.started": (CONTINUE, ROLL_BACK),
}
_LABELS = {SIGN_OFF: "Sign off", CONTINUE: "Continue", ROLL_BACK: "Roll back"}
_MAX_SECTION = 3000  # Slack's limit on a section's text


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_MAX_SECTION]}}


def blocks(event: str, text: str, release: str) -> list[dict[str, Any]] | None:
    """The blocks of a message, or None when plain text says it all (no button to offer)."""
    actions = BUTTONS.get(event)
    if not actions or not release:
        return None
    buttons = []
    for action in actions:
        button: dict[str, Any] = {"type": "button", "action_id": action, "value": release,
                                  "text": {"type": "plain_text", "text": _LABELS[action]}}
        if action == ROLL_BACK:
            button["style"] = "danger"
            button["confirm"] = {"title": {"type": "plain_text", "text": "Roll back?"},
                                 "text": {"type": "plain_text", "text": f"Roll {release} back to stable."},
                                 "confirm": {"type": "plain_text", "text": "Roll back"},
                                 "deny": {"type": "plain_text", "text": "Cancel"}}
        elif action == SIGN_OFF:
            button["style"] = "primary"
        buttons.append(button)
    return [_section(text), {"type": "actions", "block_id": f"launchdeck:{event}", "elements": buttons}]


def answered(text: str, outcome: str) -> list[dict[str, Any]]:
    """The message as it reads once answered: its text, and who did what when instead of the buttons."""
    return [_section(text), {"type": "context", "elements": [{"type": "mrkdwn", "text": outcome[:_MAX_SECTION]}]}]

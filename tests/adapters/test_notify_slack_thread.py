"""A Slack channel with a bot token: one parent message per release, kept up to date, the rest in its thread."""

from __future__ import annotations

import asyncio

import fake_services
import pytest

from launchdeck.adapters.notify.slack_thread import MemoryThreads, SlackThreadChannel
from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError

BOT = "xoxb-1111-2222-bottokenvalue"


def message(event: str, title: str, *, broadcast: bool = False) -> Message:
    return Message(event, "launches", "en", f"{title}\nmore words", title, release="shop-v2", key=f"shop-v2:1:{event}",
                   broadcast=broadcast)


def test_one_parent_kept_up_to_date_and_every_message_in_its_thread() -> None:
    with fake_services.slack_web({BOT}, {"C0LAUNCH"}) as slack:
        channel = SlackThreadChannel("launches", BOT, "C0LAUNCH", base_url=f"{slack.url}/api/")
        for event, title in (("release.started", "shop-v2 v2 — started"), ("stage.started", "stage 2/3 at 25%"),
                             ("gate.fired", "gate error-rate fired at 25%")):
            asyncio.run(channel.send(message(event, title, broadcast=event == "gate.fired")))
    (parent,) = slack.parents("C0LAUNCH")
    replies = slack.replies(parent.ts)
    assert [r.text.splitlines()[0] for r in replies] == ["shop-v2 v2 — started", "stage 2/3 at 25%",
                                                        "gate error-rate fired at 25%"]
    assert parent.text.startswith("gate error-rate fired at 25%")  # the newest status line
    assert len(parent.updates) == 2
    assert [r.reply_broadcast for r in replies] == [False, False, True]


def test_a_decision_message_carries_the_buttons_that_answer_it() -> None:
    with fake_services.slack_web({BOT}, {"C0LAUNCH"}) as slack:
        channel = SlackThreadChannel("launches", BOT, "C0LAUNCH", base_url=f"{slack.url}/api/")
        asyncio.run(channel.send(message("decision.requested", "decide: continue or roll back")))
    (reply,) = [p for p in slack.posts if p.thread_ts]
    assert reply.blocks is not None
    buttons = reply.blocks[1]["elements"]
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons] == [
        ("Continue", "launchdeck.continue", "shop-v2"), ("Roll back", "launchdeck.rollback", "shop-v2")]


def test_a_second_channel_object_threads_under_the_kept_parent() -> None:
    threads = MemoryThreads()
    with fake_services.slack_web({BOT}, {"C0LAUNCH"}) as slack:
        for title in ("first", "second"):  # e.g. a worker that took the release over
            channel = SlackThreadChannel("launches", BOT, "C0LAUNCH", threads=threads, base_url=f"{slack.url}/api/")
            asyncio.run(channel.send(message("stage.started", title)))
    assert len(slack.parents("C0LAUNCH")) == 1 and len(slack.posts) == 3


@pytest.mark.parametrize(("token", "channel", "error", "hint"), [
    ("xoxb-wrong", "C0LAUNCH", "invalid_auth", "install the Slack app again"),
    (BOT, "C0OTHER", "channel_not_found", "/invite"),
])
def test_slack_refusals_say_what_to_do_without_the_token(token: str, channel: str, error: str, hint: str) -> None:
    with fake_services.slack_web({BOT}, {"C0LAUNCH"}) as slack:
        sender = SlackThreadChannel("launches", token, channel, base_url=f"{slack.url}/api/")
        with pytest.raises(NotifyError) as err:
            asyncio.run(sender.send(message("stage.started", "x")))
    assert error in err.value.message and hint in (err.value.hint or "") and token not in str(err.value)

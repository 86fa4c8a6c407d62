"""Console and file channels deliver rendered messages, or say clearly why they cannot."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from launchdeck.adapters.notify import Notifier
from launchdeck.adapters.notify.console import ConsoleChannel
from launchdeck.adapters.notify.file import FileChannel
from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError


def message(event: str = "stage.started", text: str = "[launchdeck] shop v2 — stage 1/3 started at 5%\nv2 now takes 5% of traffic.") -> Message:
    return Message(event=event, channel="log", locale="en", text=text, title=text.splitlines()[0])


def test_file_channel_appends_one_json_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "out" / "deep" / "notifications.jsonl"
    channel = FileChannel("log", path, clock=lambda: "2026-02-03T14:05:00Z")

    async def main() -> None:
        await channel.send(message())
        await channel.send(message("gate.fired", "[launchdeck] shop v2 — gate error-rate fired\nvalue 3.12% — « fr » ok"))

    asyncio.run(main())
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert set(records[0]) == {"at", "channel", "event", "locale", "title", "text"}
    assert records[0]["at"] == "2026-02-03T14:05:00Z"
    assert records[0]["channel"] == "log" and records[0]["event"] == "stage.started"
    assert records[0]["title"] == "[launchdeck] shop v2 — stage 1/3 started at 5%"
    assert records[1]["event"] == "gate.fired" and "« fr »" in records[1]["text"]


def test_file_channel_writes_a_keyed_message_once_even_from_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    keyed = Message(event="gate.fired", channel="log", locale="en", text="[launchdeck] fired", title="fired",
                    key="shop-v2:1:7")

    async def send_twice(channel: FileChannel) -> None:
        await channel.send(keyed)
        await channel.send(keyed)

    asyncio.run(send_twice(FileChannel("log", path)))
    asyncio.run(send_twice(FileChannel("log", path)))  # a run started again after a crash: the same outbox row
    asyncio.run(FileChannel("log", path).send(message()))  # unkeyed messages are always written
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(r["event"], r.get("key")) for r in records] == [("gate.fired", "shop-v2:1:7"), ("stage.started", None)]


def test_file_channel_stamps_each_line_with_a_utc_time_by_default(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    asyncio.run(FileChannel("log", path).send(message()))
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["at"].endswith("Z") and record["at"][:2] == "20"


def test_file_channel_concurrent_sends_keep_lines_whole(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    channel = FileChannel("log", path)

    async def main() -> None:
        await asyncio.gather(*(channel.send(message(text=f"[launchdeck] n{i}\n" + "x" * 5000)) for i in range(20)))

    asyncio.run(main())
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["title"] for r in records) == sorted(f"[launchdeck] n{i}" for i in range(20))


def test_file_channel_on_an_unwritable_path_raises_notify_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    channel = FileChannel("log", blocker / "sub" / "n.jsonl")
    with pytest.raises(NotifyError) as caught:
        asyncio.run(channel.send(message()))
    assert "log" in caught.value.message and "stage.started" in caught.value.message
    assert caught.value.hint and "writable" in caught.value.hint
    assert isinstance(caught.value.__cause__, OSError)


def test_console_channel_prints_channel_and_text_to_the_given_stream() -> None:
    stream = io.StringIO()
    asyncio.run(ConsoleChannel("console", stream=stream).send(message()))
    assert stream.getvalue() == "[console] [launchdeck] shop v2 — stage 1/3 started at 5%\nv2 now takes 5% of traffic.\n"


def test_console_channel_defaults_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(ConsoleChannel("console").send(message()))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("[console] [launchdeck] shop v2")


def test_console_channel_on_a_closed_stream_raises_notify_error() -> None:
    stream = io.StringIO()
    stream.close()
    with pytest.raises(NotifyError):
        asyncio.run(ConsoleChannel("console", stream=stream).send(message()))


def test_both_channels_are_notifiers(tmp_path: Path) -> None:
    assert isinstance(ConsoleChannel("console"), Notifier)
    assert isinstance(FileChannel("log", tmp_path / "n.jsonl"), Notifier)

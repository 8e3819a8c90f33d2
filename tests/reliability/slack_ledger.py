"""What reached Slack versus what the outbox says was sent.

`LedgerSlackStandin` is the Slack stand-in plus two things the reliability runs need:
- a ledger of every message Slack *accepted* (posts, edits, ephemerals, response-URL answers),
  kept as comparable keys `(method, channel, thread/target ts, text)`;
- a kill switch: armed with a child's pid, it SIGKILLs that process right after Slack accepted
  the Nth message and before the answer is written back. That is exactly the crash between
  Slack's answer and our commit (the message exists in Slack, the outbox row is still
  `sending`), injected deterministically and without touching product code.

`compare` then counts, per key, how often Slack got a message against how many outbox rows were
sent with it: extras are duplicates, shortfalls are lost messages.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select

from gtm_feedback_dagster.messaging.outbox import KIND_APPROVAL_UPDATE, SENT
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import OutboxMessage
from tests.standins.http_standin import RecordedRequest, Response
from tests.standins.slack_standin import SlackStandin, _params

Key = tuple[str, str | None, str | None, str]
MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral")


class LedgerSlackStandin(SlackStandin):
    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[Key] = []
        self._ledger_lock = threading.Lock()
        self._inflight = 0
        self._local = threading.local()
        self._victim_pid: int | None = None
        self._kill_at: int | None = None
        self._accepted_since_armed = 0
        self.kill_fired = False

    # -- kill switch ------------------------------------------------------------------------------

    def arm(self, pid: int, after_messages: int) -> None:
        """SIGKILL `pid` right after the `after_messages`-th message accepted from now on."""
        with self._ledger_lock:
            self._victim_pid, self._kill_at = pid, after_messages
            self._accepted_since_armed = 0
            self.kill_fired = False

    def disarm(self) -> None:
        with self._ledger_lock:
            self._victim_pid = self._kill_at = None

    def reset_ledger(self) -> None:
        """Forget the messages accepted so far (a new trial on the same world)."""
        with self._ledger_lock:
            self.accepted.clear()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until no request is being handled (a dead client's last call is fully recorded, a
        delayed answer has been given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._ledger_lock:
                if self._inflight == 0:
                    return
            time.sleep(0.01)
        raise TimeoutError("the Slack stand-in is still handling a request")

    # -- recording --------------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        # A delayed request (a scripted slow answer) is in flight while it sleeps; handle()
        # closes it. (Only delays answered normally are used with this stand-in.)
        if seconds <= 0:
            return
        with self._ledger_lock:
            self._inflight += 1
        self._local.counted = True
        super()._sleep(seconds)

    def handle(self, request: RecordedRequest) -> Response:
        counted = getattr(self._local, "counted", False)
        self._local.counted = False
        if not counted:
            with self._ledger_lock:
                self._inflight += 1
        try:
            response = super().handle(request)
            key = self._message_key(request, response)
            if key is not None:
                with self._ledger_lock:
                    self.accepted.append(key)
                    self._maybe_kill()
            return response
        finally:
            with self._ledger_lock:
                self._inflight -= 1

    def _maybe_kill(self) -> None:
        if self._victim_pid is None or self._kill_at is None:
            return
        self._accepted_since_armed += 1
        if self._accepted_since_armed == self._kill_at:
            # Before the answer is written: the client can never commit this message as sent.
            os.kill(self._victim_pid, signal.SIGKILL)
            self.kill_fired = True
            self._victim_pid = self._kill_at = None

    def _message_key(self, request: RecordedRequest, response: Response) -> Key | None:
        if request.path.startswith("/hooks/"):
            if response.status != 200:
                return None
            text = (request.json or {}).get("text", "") if isinstance(request.json, dict) else ""
            return ("respond", request.path, None, str(text))
        method = request.path.removeprefix("/api/")
        if method not in MESSAGE_METHODS:
            return None
        body = response.body if isinstance(response.body, dict) else {}
        if response.status != 200 or not body.get("ok"):
            return None
        params = _params(request)
        text = str(params.get("text") or "")
        channel = str(params.get("channel") or "")
        if method == "chat.postMessage":
            return (method, self._channel_for(channel), params.get("thread_ts") or None, text)
        if method == "chat.update":
            return (method, channel, params.get("ts") or None, text)
        return (method, channel, params.get("thread_ts") or None, text)

    def accepted_counter(self) -> Counter[Key]:
        with self._ledger_lock:
            return Counter(self.accepted)


# ---------------------------------------------------------------------------- the outbox side


def row_key(row: OutboxMessage) -> Key:
    """The ledger key of a sent outbox row (how it was delivered follows from its columns)."""
    text = row.text or " "
    if row.response_url:
        return ("respond", urlsplit(row.response_url).path, None, text)
    if row.kind == KIND_APPROVAL_UPDATE or row.target_ts:
        return ("chat.update", row.slack_channel, row.slack_ts, text)
    if row.ephemeral_user:
        return ("chat.postEphemeral", row.channel, row.thread_ts, text)
    return ("chat.postMessage", row.slack_channel, row.thread_ts, text)


def sent_ids(url: str) -> set[int]:
    with session_scope(url) as session:
        return set(session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == SENT)))


def sent_counter(url: str, exclude: Iterable[int] = ()) -> Counter[Key]:
    """Keys of the rows recorded as sent (rows sent before the trial excluded)."""
    skip = set(exclude)
    with session_scope(url) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.status == SENT)).all()
        return Counter(row_key(r) for r in rows if r.id not in skip)


@dataclass
class Comparison:
    expected: int  # messages the outbox says were sent
    delivered: int  # messages Slack accepted
    duplicates: Counter[Key] = field(default_factory=Counter)
    missing: Counter[Key] = field(default_factory=Counter)


def compare(standin: LedgerSlackStandin, url: str, exclude: Iterable[int] = ()) -> Comparison:
    accepted = standin.accepted_counter()
    expected = sent_counter(url, exclude)
    return Comparison(
        expected=sum(expected.values()),
        delivered=sum(accepted.values()),
        duplicates=accepted - expected,
        missing=expected - accepted,
    )

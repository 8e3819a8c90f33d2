"""A minimal local Slack Web API for the job benchmarks: the real slack-sdk client of the outbox
delivery talks to it over 127.0.0.1 and every call succeeds (`users.lookupByEmail` finds a user,
`chat.postMessage` answers with a fresh ts). It only counts calls; the tests have the full,
recording stand-in."""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs


class BenchSlack:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                method = self.path.split("/api/", 1)[-1].split("?", 1)[0]
                body = standin.answer(method, _params(raw, self.headers.get("content-type")))
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls[method] += 1
            ts = f"1800000000.{next(self._ts):06d}"
        if method == "users.lookupByEmail":
            email = str(params.get("email", "someone@example.com"))
            user_id = "U0" + "".join(c for c in email.upper() if c.isalnum())[:12]
            return {"ok": True, "user": {"id": user_id, "profile": {"email": email}}}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            channel = str(params.get("channel") or "C0BENCH")
            return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}}
        if method == "chat.getPermalink":
            return {"ok": True, "permalink": "https://example.slack.com/archives/C0BENCH/p1"}
        return {"ok": True}

    def __enter__(self) -> BenchSlack:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()


def _params(raw: str, content_type: str | None) -> dict[str, Any]:
    if content_type and "json" in content_type:
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return {k: v[-1] for k, v in parse_qs(raw).items()}

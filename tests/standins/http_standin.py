"""A reusable local HTTP stand-in that real clients talk to over 127.0.0.1.

Subclasses implement `handle(request) -> Response`. The base records every request and lets a
test script faults ahead of the normal handler:

    with MyStandin() as server:
        server.fail_next(status=429, headers={"Retry-After": "0"})      # once
        server.fail_next(status=401, body={"error": "bad key"}, times=None)  # until cleared
        server.fail_next(delay=2.0)            # sleep, then answer normally (client timeouts)
        server.fail_next(drop=True)            # close the connection without an answer
        server.fail_next(502, b"<html>oops", content_type="text/html")  # malformed body
        client = RealClient(base_url=server.url)
        assert [r.status for r in server.requests] == [429, 200]

Faults apply in FIFO order to requests whose path starts with the fault's `path` (any path when
None); a body without a status is sent with 200. Delays wait on an event that `stop()` sets, so
shutting down never hangs on a sleeper. Each recorded request keeps the status it was answered
with (None if the connection was dropped). Exceptions inside the stand-in are collected in
`.errors` and answered with a 500: fixtures should assert `.errors` is empty at teardown, since a
retrying client would otherwise hide a stand-in bug.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any = None  # parsed body when it is JSON, else None
    form: dict[str, list[str]] | None = None  # parsed body when form-encoded
    status: int | None = None  # status answered; None while pending or when the connection dropped

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list | None = None  # dict/list are sent as JSON
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None  # default: application/json for dict/list, else text/plain

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode(), self.content_type or "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        if isinstance(self.body, bytes | None):
            return self.body or b"", self.content_type or "application/json"
        raise TypeError(f"cannot send a body of type {type(self.body).__name__}")


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, body=obj, headers=dict(headers or {}))


@dataclass
class Fault:
    """A scripted misbehaviour. With `status` None (and not `drop`) the request is delayed and
    then handled normally; otherwise the fault's own response is sent."""

    status: int | None = None
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0
    drop: bool = False
    path: str | None = None
    times: int | None = 1  # None: persistent until clear_faults()
    hits: int = 0


class HTTPStandin:
    """Base stand-in server: start/stop or use as a context manager; `.url` is its root URL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self.errors: list[str] = []  # exceptions raised while serving (stand-in bugs)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> HTTPStandin:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        # Daemon handler threads are not joined on close: a delayed handler cannot block stop().
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> HTTPStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("stand-in is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- recording ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path equals `path` or starts with `path + "/"`."""
        return [r for r in self.requests if r.path == path or r.path.startswith(path + "/")]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- faults ---------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int | None = None,
        body: bytes | str | dict | list | Response | None = None,
        headers: dict[str, str] | None = None,
        *,
        content_type: str | None = None,
        delay: float = 0.0,
        drop: bool = False,
        path: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        if status is None and body is not None and not isinstance(body, Response):
            status = 200
        if isinstance(body, Response):  # e.g. fail_next(429, openai_error(...))
            status = status if status is not None else body.status
            headers = {**body.headers, **(headers or {})}
            content_type = content_type or body.content_type
            body = body.body
        fault = Fault(
            status=status,
            body=body,
            headers=dict(headers or {}),
            content_type=content_type,
            delay=delay,
            drop=drop,
            path=path,
            times=times,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is None or path.startswith(fault.path):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- to implement ---------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Response:
        return json_response({"error": f"no handler for {request.method} {request.path}"}, 404)

    # -- internals ------------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size_line = handler.rfile.readline().strip()
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                handler.rfile.readline()  # trailing CRLF
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _parse(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> RecordedRequest:
    parts = urlsplit(raw_path)
    parsed_json: Any = None
    form = None
    ctype = headers.get("content-type", "")
    if body:
        if "application/x-www-form-urlencoded" in ctype:
            form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        else:
            try:
                parsed_json = json.loads(body)
            except ValueError:
                parsed_json = None
    return RecordedRequest(
        method=method,
        path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=headers,
        body=body,
        json=parsed_json,
        form=form,
    )


def _make_handler(standin: HTTPStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keep-alive, as real services speak; every response carries Content-Length.
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _serve(self) -> None:
            body = _read_body(self)
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = _parse(self.command, self.path, headers, body)
            standin._record(request)
            fault = standin._take_fault(request.path)
            if fault is not None:
                standin._sleep(fault.delay)
                if standin._stopping.is_set():
                    return
                if fault.drop:
                    self.close_connection = True
                    return
                if fault.status is not None:
                    self._send(
                        request,
                        Response(fault.status, fault.body, fault.headers, fault.content_type),
                    )
                    return
            try:
                response = standin.handle(request)
                if not isinstance(response, Response):
                    raise TypeError(f"handle() returned {type(response).__name__}")
            except Exception as exc:
                # A stand-in bug must show up (errors list + a 500), not as a silent drop that
                # a retrying client would paper over.
                standin.errors.append(f"{request.method} {request.path}: {exc!r}")
                response = json_response({"error": f"stand-in crashed: {exc!r}"}, 500)
            self._send(request, response)

        def _send(self, request: RecordedRequest, response: Response) -> None:
            try:
                payload, ctype = response.encode()
            except TypeError as exc:
                standin.errors.append(f"{request.method} {request.path}: {exc!r}")
                response = json_response({"error": f"stand-in crashed: {exc!r}"}, 500)
                payload, ctype = response.encode()
            request.status = response.status
            try:
                self.send_response(response.status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (its timeout fired); nothing left to tell it.
                self.close_connection = True

        do_POST = _serve
        do_GET = _serve
        do_PUT = _serve
        do_PATCH = _serve
        do_DELETE = _serve

    return Handler

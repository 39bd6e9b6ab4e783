"""The playground's web server: the page, its assets and the JSON API over HTTP.

Standard library only (:class:`http.server.ThreadingHTTPServer`); what it answers
is computed by :mod:`gdlab.playground.api`. Endpoints:

``GET /``
    the page (``static/index.html``); ``/app.js`` and ``/style.css`` beside it.
``GET /api/surfaces``
    :func:`~gdlab.playground.api.surfaces_payload`.
``GET /api/optimizers``
    :func:`~gdlab.playground.api.optimizers_payload`.
``POST /api/trajectories``
    :func:`~gdlab.playground.api.trajectories_payload` of the JSON body.

A bad request gets HTTP 400 and ``{"error": "..."}``: one line in the project's
message format (``"playground: steps must be an integer in [1, 5000], got 9000"``),
never a traceback; so is a body that repeats a key or holds an integer beyond
float's range. Another method gets 405, and the standard library's own refusals
(a malformed request line) come in the same JSON. Work per request is bounded (the
API's limits on steps and runs, :data:`MAX_BODY` bytes, :data:`MAX_DEPTH` levels of
JSON, checked in one pass) and one request computes at a time.

**Under load.** The listen backlog is :data:`BACKLOG` connections (the standard
library's 5 made 200 parallel requests wait for TCP retransmissions, up to minutes,
or be reset). Requests that wait for the computation are served by priority: those
of a page (with the ``X-Playground-Page`` header) first, then the others, each in
the order they came. A request whose client has closed its connection is dropped,
while it waits and before each run of its work: nobody reads the answer.

**Only its own page drives it.** Any web page the user visits can send requests to
``127.0.0.1``, so the server refuses, before looking at the method or path, (403) a
``Host`` other than its bound address, ``localhost``, ``127.0.0.1`` or ``[::1]``
with its port (a DNS-rebinding page arrives with its own name) and an ``Origin``
other than its own; then (415) a POST whose ``Content-Type`` is not
``application/json`` (a cross-site form cannot send that, and a cross-site ``fetch``
of it needs a CORS preflight, which is not answered). A header it reads (``Host``,
``Origin``, ``Content-Type``, ``Content-Length``, the page's) given twice is a 400.

**The newest request of a page wins.** The page names itself in the
``X-Playground-Page`` header and aborts its previous request when it sends a new
one; the server then stops the older request's work before its next run and answers
it 409, so a click is answered after at most one run of an older request, never
after a queue of them. Requests without the header are never cancelled.

A client that sends less body than its ``Content-Length`` announces, or stops
sending, gets 408 after :data:`REQUEST_TIMEOUT` seconds and is disconnected; a
client that goes away is dropped without a traceback.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import json
import select
import socket
import sys
import threading
import traceback
import webbrowser
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from gdlab import _checks
from gdlab.playground import api
from gdlab.playground.api import OWNER

MAX_BODY = 64 * 1024
"""The largest request body accepted, in bytes."""
MAX_DEPTH = 16
"""The deepest nesting of JSON arrays and objects a request body may have."""
REQUEST_TIMEOUT = 10.0
"""Seconds a client may take to send its request."""
PAGE_HEADER = "X-Playground-Page"
"""The header that names the page a request comes from (see "newest request wins")."""
BACKLOG = 1024
"""Connections the kernel queues before the server accepts them (capped by the
system's ``somaxconn``)."""
WAIT_POLL = 0.5
"""Seconds between two checks, while a request waits for the computation, that
its client is still there and its page has sent nothing newer (a thread freed
early; the check before its first run is what keeps it from computing): every
waiter wakes this often."""

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}

_FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<circle cx="8" cy="8" r="7" fill="#3b5bdb"/>'
    b'<path d="M3 4q4 1 5 4t5 4" stroke="#fff" stroke-width="1.6" fill="none"/></svg>'
)


class _Reject(Exception):
    """A request refused or abandoned: its status and one-line message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _static(name: str) -> bytes:
    return (resources.files("gdlab.playground") / "static" / name).read_bytes()


def _depth(text: str) -> int:
    """How deep arrays and objects nest in the JSON ``text``, counted without
    parsing it: Python's parser recurses, and ``"[" * 30000`` would overflow it.
    One pass over the characters (brackets inside strings do not count): a regex
    skipping strings took quadratic time on an unterminated run of ``\\"``."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def _integer(text: str) -> int:
    """A JSON integer, refused beyond float's range: the page sends doubles, and a
    longer one is an OverflowError downstream (or, past 4300 digits, Python's own
    refusal to convert it)."""
    digits = len(text.removeprefix("-"))
    if digits > 309 or abs(int(text)) > sys.float_info.max:
        raise _Reject(
            HTTPStatus.BAD_REQUEST,
            f"{OWNER}: the numbers in the request body must be within float range "
            f"(below 1.8e308), got an integer of {digits} digits",
        )
    return int(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key repeats (json would keep the last one)."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Reject(
                HTTPStatus.BAD_REQUEST,
                f"{OWNER}: the request body must not repeat a key, got {key!r} twice",
            )
        seen.add(key)
    return dict(pairs)


def _closed(connection: socket.socket) -> bool:
    """Whether the client has closed (or reset) its side of ``connection``. After
    its body a client sends nothing (HTTP/1.0: one request per connection), so a
    readable socket with nothing to read is one at its end."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(connection, select.POLLIN)
            events = poller.poll(0)
            if not events:
                return False
            if events[0][1] & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                return True
        elif not select.select([connection], [], [], 0)[0]:
            return False
        return connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):  # reset, or already closed here
        return True


class _Queue:
    """The one computation slot, handed to waiting requests by priority (lower
    first), then by arrival; a waiter that ``stop()`` says is no longer wanted
    leaves without computing."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._waiting: list[tuple[int, int]] = []
        self._arrivals = itertools.count()

    @contextlib.contextmanager
    def slot(self, priority: int, stop: Callable[[], bool]) -> Iterator[None]:
        """Hold the slot while the block runs; :class:`api.Cancelled` if ``stop()``
        becomes true before it is this request's turn."""
        ticket = (priority, next(self._arrivals))
        with self._changed:
            heapq.heappush(self._waiting, ticket)
            try:
                while self._busy or self._waiting[0] != ticket:
                    if stop():
                        raise api.Cancelled(f"{OWNER}: cancelled while waiting")
                    self._changed.wait(WAIT_POLL)
            finally:
                self._waiting.remove(ticket)
                heapq.heapify(self._waiting)
                self._changed.notify_all()
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()


class _Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    server_version = "gdlab-playground"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.request_timeout)  # reads and writes

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} - {format % args}")

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, cache: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, payload: object) -> None:
        body = json.dumps(payload, allow_nan=False).encode()
        self._send(status, body, "application/json")

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json(status, {"error": " ".join(message.split())})

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        """The standard library's own refusals (a bad request line, an unknown
        method, headers too long) in the one JSON format, not its HTML page."""
        status = HTTPStatus(code)
        self.close_connection = True
        self._error(status, f"{OWNER}: {message or status.phrase}")

    def _header(self, name: str) -> str | None:
        """The one ``name`` header, or None; a repeated one is refused: which copy
        counts would differ between this check and what reads it."""
        values = self.headers.get_all(name) or []
        if len(values) > 1:
            raise _Reject(
                HTTPStatus.BAD_REQUEST,
                f"{OWNER}: the request must have at most one {name} header, "
                f"got {len(values)}",
            )
        return values[0] if values else None

    def _check_headers(self) -> None:
        """Refuse what only another web page would send (see the module docstring);
        asked first, whatever the method and path."""
        host = self._header("Host") or ""
        if not self.server.allows_host(host):
            raise _Reject(
                HTTPStatus.FORBIDDEN,
                f"{OWNER}: the Host header must be this server's address "
                f"({self.server.url}), got {host!r}",
            )
        origin = self._header("Origin")
        if origin is not None and origin.lower() != f"http://{host.lower()}":
            raise _Reject(
                HTTPStatus.FORBIDDEN,
                f"{OWNER}: requests from another origin are refused, got {origin!r}",
            )

    def _answer(self, respond: Callable[[str], None]) -> None:
        """Check the headers, then ``respond(path)``; a refusal is its one line."""
        try:
            self._check_headers()
            respond(self.path.split("?", 1)[0])
        except _Reject as reject:
            self._error(reject.status, str(reject))

    def do_GET(self) -> None:
        self._answer(self._get)

    do_HEAD = do_GET

    def _get(self, path: str) -> None:
        if path in _STATIC:
            name, content_type = _STATIC[path]
            self._send(HTTPStatus.OK, _static(name), content_type)
        elif path == "/api/surfaces":
            body = api.surfaces_json()
            self._send(HTTPStatus.OK, body, "application/json", cache=True)
        elif path == "/api/optimizers":
            body = api.optimizers_json()
            self._send(HTTPStatus.OK, body, "application/json", cache=True)
        elif path == "/favicon.ico":
            self._send(HTTPStatus.OK, _FAVICON, "image/svg+xml", cache=True)
        elif path == "/api/trajectories":
            self._error(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{OWNER}: /api/trajectories takes a POST with a JSON body",
            )
        else:
            self._error(HTTPStatus.NOT_FOUND, f"{OWNER}: no such page {path!r}")

    def _not_allowed(self) -> None:
        def refuse(path: str) -> None:
            self._error(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{OWNER}: {path!r} takes no {self.command}",
            )

        self._answer(refuse)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def _body(self) -> object:
        content_type = self._header("Content-Type")
        if self.headers.get_content_type() != "application/json":
            raise _Reject(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"{OWNER}: a POST must have Content-Type application/json, "
                f"got {content_type!r}",
            )
        length_text = self._header("Content-Length")
        if length_text is None or not length_text.strip().isdigit():
            raise _Reject(
                HTTPStatus.LENGTH_REQUIRED,
                f"{OWNER}: the request needs a Content-Length header",
            )
        length = int(length_text)
        if length > MAX_BODY:
            raise _Reject(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"{OWNER}: the request body must be at most {MAX_BODY} bytes, "
                f"got {length}",
            )
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            raw = b""
        if len(raw) < length:  # the client stopped sending, or went away
            raise _Reject(
                HTTPStatus.REQUEST_TIMEOUT,
                f"{OWNER}: the request body ended before its {length} bytes",
            )
        try:
            text = raw.decode("utf-8")
            depth = _depth(text)
            if depth > MAX_DEPTH:
                raise _Reject(
                    HTTPStatus.BAD_REQUEST,
                    f"{OWNER}: the request body must nest arrays and objects at most "
                    f"{MAX_DEPTH} deep, got {depth}",
                )
            return json.loads(text, parse_int=_integer, object_pairs_hook=_object)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            shown = raw[:60].decode("utf-8", "replace")
            raise _Reject(
                HTTPStatus.BAD_REQUEST,
                f"{OWNER}: the request body must be JSON, got {shown!r} ({error})",
            ) from None

    def do_POST(self) -> None:
        self._answer(self._post)

    def _post(self, path: str) -> None:
        if path != "/api/trajectories":
            known = path in _STATIC or path.startswith("/api/")
            status = HTTPStatus.METHOD_NOT_ALLOWED if known else HTTPStatus.NOT_FOUND
            self._error(status, f"{OWNER}: {path!r} takes no POST")
            return
        body = self._body()  # HTTP/1.0: one request per connection
        page = self._header(PAGE_HEADER)

        def gone() -> bool:
            return _closed(self.connection)

        try:
            with self.server.computing(page, gone) as cancelled:
                payload = api.trajectories_payload(body, cancelled)
        except api.Cancelled:
            if gone():  # nobody to answer
                self.close_connection = True
                return
            self._error(
                HTTPStatus.CONFLICT,
                f"{OWNER}: cancelled: a newer request from the same page arrived",
            )
        except ValueError as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))
        except Exception:  # a bug: the log gets the traceback, the client one line
            traceback.print_exc(file=sys.stderr)
            self._error(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                f"{OWNER}: internal error (the server log has the details)",
            )
        else:
            self._json(HTTPStatus.OK, payload)


class PlaygroundServer(ThreadingHTTPServer):
    """The playground's HTTP server; ``url`` is where the page is."""

    daemon_threads = True
    request_queue_size = BACKLOG
    request_timeout = REQUEST_TIMEOUT

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.log = log
        self.work = _Queue()  # one computation at a time: bounded work
        self._pages = threading.Lock()
        self._latest: dict[str, object] = {}  # page -> its newest request
        super().__init__((host, port), _Handler)
        self._hosts = {"localhost", "127.0.0.1", "[::1]", self._shown, host.lower()}

    @property
    def _shown(self) -> str:
        """The bound address as a URL shows it (``127.0.0.1``, ``[::1]``)."""
        host = self.server_address[0]
        host = host if isinstance(host, str) else host.decode()
        return f"[{host}]" if ":" in host else host

    @property
    def url(self) -> str:
        """``http://HOST:PORT/`` with the port actually bound."""
        return f"http://{self._shown}:{self.server_port}/"

    def allows_host(self, host: str) -> bool:
        """Whether a ``Host`` header names this server: the bound address,
        ``localhost``, ``127.0.0.1`` or ``[::1]`` with its port; when bound to every
        interface, any IP address with its port. No other name: that is how a
        DNS-rebinding page reaches a local server."""
        name, sep, port = host.lower().rpartition(":")
        if not sep or not port.isdigit():  # no port: the default one
            name, port = host.lower(), "80"
        if port != str(self.server_port):
            return False
        if name in self._hosts:
            return True
        if self._shown not in ("0.0.0.0", "[::]"):
            return False
        try:
            ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
        except ValueError:
            return False
        return True

    @contextlib.contextmanager
    def computing(
        self, page: str | None, gone: Callable[[], bool] = lambda: False
    ) -> Iterator[Callable[[], bool]]:
        """Hold the one computation slot (a page's requests before the others);
        yield a test of whether this request should stop: a newer request from the
        same ``page`` has arrived since, or ``gone()`` says its client left. A
        request stopped while it waits raises :class:`api.Cancelled`."""
        mine = object()
        if page is not None:
            with self._pages:
                self._latest[page] = mine

        def stop() -> bool:
            newer = page is not None and self._latest.get(page) is not mine
            return newer or gone()

        try:
            with self.work.slot(0 if page is not None else 1, stop):
                yield stop
        finally:
            if page is not None:
                with self._pages:
                    if self._latest.get(page) is mine:
                        del self._latest[page]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away or stalled is dropped quietly; a bug is logged."""
        if isinstance(sys.exception(), ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


def make_server(
    host: str = "127.0.0.1", port: int = 8000, log: Callable[[str], None] | None = None
) -> PlaygroundServer:
    """A bound (not yet serving) playground server; port 0 picks a free port.

    A port already in use (or any other failure to listen) is a one-line ValueError.
    """
    if not isinstance(host, str) or not host.strip():  # "" would bind every interface
        _checks.fail(OWNER, "host", "an address (0.0.0.0 for every interface)", host)
    port = _checks.integer(OWNER, "port", port, low=0)
    if port > 65535:
        _checks.fail(OWNER, "port", "an integer in [0, 65535]", port)
    try:
        return PlaygroundServer(host, port, log)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ValueError(f"{OWNER}: cannot listen on {host}:{port}: {reason}") from None


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    open_browser: bool = False,
    progress: Callable[[str], None] = print,
) -> None:
    """Serve the playground until interrupted (Ctrl-C), telling ``progress`` its
    URL first."""
    server = make_server(host, port)
    with server:
        progress(f"gdlab playground: {server.url} (Ctrl-C to stop)")
        if open_browser:
            webbrowser.open(server.url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            progress("gdlab playground: stopped")


__all__ = [
    "BACKLOG",
    "MAX_BODY",
    "MAX_DEPTH",
    "PAGE_HEADER",
    "REQUEST_TIMEOUT",
    "PlaygroundServer",
    "make_server",
    "serve",
]

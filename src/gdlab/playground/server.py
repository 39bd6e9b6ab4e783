"""The playground's web server: the page, its assets and a small JSON API.

Standard library only (:class:`http.server.ThreadingHTTPServer`). Endpoints:

``GET /``
    the page (``static/index.html``); ``/app.js`` and ``/style.css`` beside it.
``GET /api/surfaces``
    every surface: name, formula, bounds, minima, default start and a
    ``GRID`` x ``GRID`` grid of values with contour levels (geometric above the
    minimum where the surface says so).
``GET /api/optimizers``
    every optimizer and preset with its hyperparameters and their defaults from the
    registry, the schedules a run may use, and the request limits.
``POST /api/trajectories``
    ``{"surface", "start": [x, y], "steps", "runs": [{"optimizer", "lr", "hyper",
    "schedule"}]}`` -> one path per run, computed by
    :func:`gdlab.surfaces.trajectory` with the real optimizers, the values along
    it and whether it diverged.

A bad request gets HTTP 400 and ``{"error": "..."}``: one line in the project's
message format (``"playground: steps must be an integer in [1, 5000], got 9000"``),
never a traceback. Work per request is bounded (:data:`MAX_STEPS` x
:data:`MAX_RUNS` optimizer steps, :data:`MAX_BODY` bytes, :data:`MAX_DEPTH` levels
of JSON) and one request computes at a time.

**Only its own page drives it.** Any web page the user visits can send requests to
``127.0.0.1``, so the server refuses (403) a ``Host`` other than its bound address,
``localhost``, ``127.0.0.1`` or ``[::1]`` with its port (a DNS-rebinding page
arrives with its own name), an ``Origin`` other than its own, and (415) a POST whose
``Content-Type`` is not ``application/json`` (a cross-site form cannot send that, and
a cross-site ``fetch`` of it needs a CORS preflight, which is not answered).

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
import dataclasses
import functools
import ipaddress
import json
import math
import re
import sys
import threading
import traceback
import webbrowser
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gdlab import _checks, optim, schedules, surfaces

OWNER = "playground"
GRID = 120
"""Points per axis of the contour grid sent for each surface."""
LEVELS = 24
"""Contour levels per surface."""
MAX_STEPS = 5000
"""The most optimizer steps one request may ask for."""
MAX_RUNS = 12
"""The most runs one request may hold."""
MAX_BODY = 64 * 1024
"""The largest request body accepted, in bytes."""
MAX_DEPTH = 16
"""The deepest nesting of JSON arrays and objects a request body may have."""
REQUEST_TIMEOUT = 10.0
"""Seconds a client may take to send its request."""
PAGE_HEADER = "X-Playground-Page"
"""The header that names the page a request comes from (see "newest request wins")."""
DEFAULT_STEPS = 100
"""The step count the page starts with; schedule defaults are shown for it."""

SCHEDULES = schedules.RUN_SCHEDULES
"""Schedules a run may use (those whose arguments are numbers); each may be warmed."""

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

F64 = NDArray[np.float64]


class _Reject(Exception):
    """A request refused or abandoned: its status and one-line message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


# --- payloads: plain functions of plain data, usable without HTTP ------------------


def _finite(x: float) -> float | None:
    """``x`` as a JSON number, or None (null) when it is not finite."""
    return float(x) if math.isfinite(x) else None


def _levels(surface: surfaces.Surface, z: F64, count: int = LEVELS) -> F64:
    """Contour levels: geometric above the minimum, or evenly spaced."""
    lo, hi = float(np.min(z)), float(np.max(z))
    if surface.log_levels and hi > lo:
        base = min(lo, surface.min_value) if math.isfinite(surface.min_value) else lo
        span = hi - base
        return np.asarray(base + np.geomspace(span * 1e-4, span, count))
    return np.linspace(lo, hi, count)


def _surface_info(surface: surfaces.Surface) -> dict[str, Any]:
    (x0, x1), (y0, y1) = surface.bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID))
    z = surface.value(np.stack([gx, gy], axis=-1))
    return {
        "name": surface.name,
        "formula": surface.formula,
        "description": surface.description,
        "labels": list(surface.labels),
        "value_name": surface.value_name,
        "bounds": [[x0, x1], [y0, y1]],
        "minima": [list(m) for m in surface.minima],
        "min_value": _finite(surface.min_value),
        "start": list(surface.start),
        "log_scale": surface.log_levels,
        "grid": {
            "nx": GRID,
            "ny": GRID,
            # row j is y = y0 + j·(y1 − y0)/(ny − 1); 5 significant digits suffice
            "values": [float(f"{v:.5g}") for v in z.ravel()],
        },
        "levels": [float(f"{v:.6g}") for v in _levels(surface, z)],
    }


@functools.cache
def _surfaces_json() -> bytes:
    payload = {"surfaces": [_surface_info(surfaces.get(n)) for n in surfaces.names()]}
    return json.dumps(payload, allow_nan=False).encode()


def surfaces_payload() -> dict[str, Any]:
    """What ``GET /api/surfaces`` answers: ``{"surfaces": [...]}``."""
    result: dict[str, Any] = json.loads(_surfaces_json())
    return result


def _kind(default: object) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, tuple):
        return "pair"
    return "number"


def _optimizer_entry(
    name: str, base: str, preset: Mapping[str, Any], summary: str
) -> dict[str, Any]:
    defaults = {**optim.get(base).defaults, **preset}
    return {
        "name": name,
        "base": base,
        "preset": dict(preset),
        "summary": summary,
        "lr": defaults["lr"],
        "hyper": [
            {
                "name": k,
                "default": list(v) if isinstance(v, tuple) else v,
                "kind": _kind(v),
            }
            for k, v in defaults.items()
            if k != "lr"
        ],
    }


def _schedule_lr_field(name: str) -> str:
    return "max_lr" if name == "one_cycle" else "lr"


def _schedule_entry(name: str) -> dict[str, Any]:
    cls = schedules.get(name)
    example = schedules.for_run(name, 1.0, DEFAULT_STEPS)  # the run builder's defaults
    lr_field = _schedule_lr_field(name)
    args = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name == lr_field:
            continue
        kind = {"int": "int", "float": "number"}.get(str(f.type), "list")
        default = getattr(example, f.name)
        args.append({"name": f.name, "kind": kind, "default": default})
    doc = (cls.__doc__ or name).strip().splitlines()[0]
    return {"name": name, "summary": doc, "lr_field": lr_field, "args": args}


@functools.cache
def _optimizers_json() -> bytes:
    entries = [
        _optimizer_entry(n, n, {}, (optim.get(n).__doc__ or n).strip().splitlines()[0])
        for n in optim.names()
    ]
    for name, preset in optim.PRESETS.items():
        values = ", ".join(f"{k}={v}" for k, v in preset.hyper.items())
        entries.append(
            _optimizer_entry(
                name, preset.base, preset.hyper, f"{preset.base} preset: {values}"
            )
        )
    payload = {
        "optimizers": entries,
        "schedules": [_schedule_entry(n) for n in SCHEDULES],
        "limits": {"max_steps": MAX_STEPS, "max_runs": MAX_RUNS},
        "default_steps": DEFAULT_STEPS,
    }
    return json.dumps(payload, allow_nan=False).encode()


def optimizers_payload() -> dict[str, Any]:
    """What ``GET /api/optimizers`` answers."""
    result: dict[str, Any] = json.loads(_optimizers_json())
    return result


# --- validating a trajectories request -----------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _start(value: object) -> tuple[float, float]:
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(_is_number(v) and math.isfinite(v) for v in value)
    )
    if not ok:
        _checks.fail(OWNER, "start", "a point [x, y] of two finite numbers", value)
    assert isinstance(value, list)
    return float(value[0]), float(value[1])


def _steps(value: object) -> int:
    requirement = f"an integer in [1, {MAX_STEPS}]"
    if not isinstance(value, int) or isinstance(value, bool):
        _checks.fail(OWNER, "steps", requirement, value)
    if not 1 <= value <= MAX_STEPS:
        _checks.fail(OWNER, "steps", requirement, value)
    return value


def _keys(where: str, value: object, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        _checks.fail(OWNER, where, "a JSON object", value)
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        _checks.fail(
            OWNER, where, f"an object with keys among {', '.join(allowed)}", unknown[0]
        )
    return value


def _hyper(where: str, base: str, value: object) -> dict[str, Any]:
    defaults = optim.get(base).defaults
    if isinstance(value, dict) and "lr" in value:
        _checks.fail(OWNER, f"{where}.lr", "given as the run's lr", value["lr"])
    given = _keys(where, value, tuple(k for k in defaults if k != "lr"))
    out: dict[str, Any] = {}
    for key, v in given.items():
        name, default = f"{where}.{key}", defaults[key]
        if isinstance(default, bool):
            if not isinstance(v, bool):
                _checks.fail(OWNER, name, "true or false", v)
            out[key] = v
        elif isinstance(default, tuple):
            ok = isinstance(v, list) and len(v) == len(default)
            if not ok or not all(_is_number(x) for x in v):
                _checks.fail(OWNER, name, f"a list of {len(default)} numbers", v)
            out[key] = tuple(_checks.number(OWNER, name, x) for x in v)
        else:
            if not _is_number(v):
                _checks.fail(OWNER, name, "a number", v)
            out[key] = _checks.number(OWNER, name, v)
    return out


def _schedule(where: str, value: object, lr: float, steps: int) -> schedules.Schedule:
    spec = dict(_keys(where, value, ("name", "warmup_steps", *_schedule_args())))
    name = spec.pop("name", None)
    if name not in SCHEDULES:
        _checks.fail(OWNER, f"{where}.name", f"one of {', '.join(SCHEDULES)}", name)
    assert isinstance(name, str)
    warmup_value = spec.pop("warmup_steps", 0)
    if warmup_value is None:
        warmup_value = 0
    if not isinstance(warmup_value, int) or isinstance(warmup_value, bool):
        _checks.fail(OWNER, f"{where}.warmup_steps", "an integer >= 0", warmup_value)
    warmup = warmup_value
    if not 0 <= warmup < steps:
        _checks.fail(
            OWNER, f"{where}.warmup_steps", f"an integer in [0, {steps - 1}]", warmup
        )
    lr_field = _schedule_lr_field(name)
    fields = {f.name for f in dataclasses.fields(schedules.get(name))}  # type: ignore[arg-type]
    for key in spec:
        if key not in fields or key == lr_field:
            allowed = ", ".join(["name", "warmup_steps", *sorted(fields - {lr_field})])
            _checks.fail(
                OWNER, where, f"an object with keys among {allowed} for {name}", key
            )
    given = {k: v for k, v in spec.items() if v is not None}
    return schedules.for_run(name, lr, steps, warmup=warmup, **given)


@functools.cache
def _schedule_args() -> tuple[str, ...]:
    names = {
        f.name
        for n in SCHEDULES
        for f in dataclasses.fields(schedules.get(n))  # type: ignore[arg-type]
    }
    return tuple(sorted(names))


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """One checked run: what :func:`gdlab.surfaces.trajectory` is called with."""

    optimizer: str
    lr: float
    hyper: dict[str, Any]
    schedule: schedules.Schedule | None
    schedule_name: str | None = None
    warmup_steps: int = 0

    @property
    def lr_arg(self) -> float | schedules.Schedule:
        """The ``lr`` given to the optimizer: the number or the schedule."""
        return self.lr if self.schedule is None else self.schedule

    @property
    def label(self) -> str:
        """``"adam (lr=0.3)"``, with the schedule's name if any."""
        text = f"{self.optimizer} (lr={self.lr:g})"
        if self.schedule_name is not None:
            text += f", {self.schedule_name}"
        if self.warmup_steps:
            text += f" after {self.warmup_steps} warm-up steps"
        return text


@dataclasses.dataclass(frozen=True)
class TrajectoriesRequest:
    """A checked ``POST /api/trajectories`` request."""

    surface: surfaces.Surface
    start: tuple[float, float]
    steps: int
    runs: tuple[RunRequest, ...]


def _run(i: int, value: object, steps: int) -> RunRequest:
    where = f"runs[{i}]"
    spec = _keys(where, value, ("optimizer", "lr", "hyper", "schedule"))
    name = spec.get("optimizer")
    if not isinstance(name, str):
        _checks.fail(OWNER, f"{where}.optimizer", "an optimizer name", name)
    base, _ = optim.resolve(name)
    lr_value = spec.get("lr")
    if lr_value is None:
        lr = float(optim.get(base).defaults["lr"])
    else:
        lr = _checks.number(OWNER, f"{where}.lr", lr_value, low=0.0)
    hyper = _hyper(f"{where}.hyper", base, spec.get("hyper", {}) or {})
    given = spec.get("schedule")
    if given is None:
        return RunRequest(name.lower(), lr, hyper, None)
    schedule = _schedule(f"{where}.schedule", given, lr, steps)
    warmup = (
        schedule.warmup_steps if isinstance(schedule, schedules.LinearWarmup) else 0
    )
    return RunRequest(name.lower(), lr, hyper, schedule, given["name"], warmup)


def parse_request(body: object) -> TrajectoriesRequest:
    """Check a decoded ``POST /api/trajectories`` body; a ValueError names the
    first problem in the one message format."""
    spec = _keys("the request", body, ("surface", "start", "steps", "runs"))
    surface = surfaces.get(spec.get("surface"))  # type: ignore[arg-type]
    start = surface.start if spec.get("start") is None else _start(spec["start"])
    steps = _steps(spec.get("steps", DEFAULT_STEPS))
    runs = spec.get("runs")
    if not isinstance(runs, list):
        _checks.fail(OWNER, "runs", f"a list of 1 to {MAX_RUNS} runs", runs)
    if not 1 <= len(runs) <= MAX_RUNS:
        raise ValueError(
            f"{OWNER}: runs must be a list of 1 to {MAX_RUNS} runs, got {len(runs)}"
        )
    return TrajectoriesRequest(
        surface, start, steps, tuple(_run(i, r, steps) for i, r in enumerate(runs))
    )


# --- computing the paths -------------------------------------------------------------


def run_trajectory(request: TrajectoriesRequest, run: RunRequest) -> F64:
    """The path of one run: :func:`gdlab.surfaces.trajectory`, nothing else."""
    return surfaces.trajectory(
        request.surface,
        run.optimizer,
        request.start,
        lr=run.lr_arg,
        steps=request.steps,
        **run.hyper,
    )


def _run_result(request: TrajectoriesRequest, run: RunRequest) -> dict[str, Any]:
    surface = request.surface
    path = run_trajectory(request, run)
    bad = int(surfaces.first_nonfinite(path[:, None])[0])
    kept = path if bad < 0 else path[:bad]
    with np.errstate(over="ignore", invalid="ignore"):
        values = surface.value(kept)
        final = surface.value(path[-1])
    lrs = None
    if run.schedule is not None:
        lrs = [float(run.schedule(t)) for t in range(request.steps)]
    return {
        "label": run.label,
        "optimizer": run.optimizer,
        "lr": run.lr,
        "hyper": {
            k: list(v) if isinstance(v, tuple) else v for k, v in run.hyper.items()
        },
        "schedule": None if run.schedule is None else run.schedule.to_dict(),
        "lrs": lrs,
        "path": kept.tolist(),
        "values": [_finite(v) for v in values.tolist()],
        "start_value": _finite(float(values[0])),
        "final_value": _finite(float(final)),
        "final_point": path[-1].tolist() if bad < 0 else None,
        "diverged": bool(surfaces.diverged(surface, path)),
        "nonfinite_at": None if bad < 0 else bad,
    }


def _never() -> bool:
    return False


def trajectories_payload(
    body: object, cancelled: Callable[[], bool] = _never
) -> dict[str, Any]:
    """What ``POST /api/trajectories`` answers for a decoded body (a ValueError for
    a bad one). ``cancelled()`` is asked before each run; once true, the work stops
    (the server answers 409)."""
    request = parse_request(body)
    results = []
    for run in request.runs:
        if cancelled():
            raise _Reject(
                HTTPStatus.CONFLICT,
                f"{OWNER}: cancelled: a newer request from the same page arrived",
            )
        results.append(_run_result(request, run))
    return {
        "surface": request.surface.name,
        "start": list(request.start),
        "steps": request.steps,
        "runs": results,
    }


# --- HTTP --------------------------------------------------------------------------


def _static(name: str) -> bytes:
    return (resources.files("gdlab.playground") / "static" / name).read_bytes()


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


def _depth(text: str) -> int:
    """How deep arrays and objects nest in the JSON ``text``, counted without
    parsing it: Python's parser recurses, and ``"[" * 30000`` would overflow it."""
    depth = deepest = 0
    for c in re.sub(r"[^\[\]{}]", "", _STRINGS.sub("", text)):
        depth += 1 if c in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


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

    def _check_headers(self) -> None:
        """Refuse what only another web page would send (see the module docstring)."""
        host = self.headers.get("Host", "")
        if not self.server.allows_host(host):
            raise _Reject(
                HTTPStatus.FORBIDDEN,
                f"{OWNER}: the Host header must be this server's address "
                f"({self.server.url}), got {host!r}",
            )
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host.lower()}":
            raise _Reject(
                HTTPStatus.FORBIDDEN,
                f"{OWNER}: requests from another origin are refused, got {origin!r}",
            )
        if self.command == "POST" and self.headers.get_content_type() != (
            "application/json"
        ):
            raise _Reject(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"{OWNER}: a POST must have Content-Type application/json, "
                f"got {self.headers.get('Content-Type')!r}",
            )

    def do_GET(self) -> None:
        try:
            self._check_headers()
        except _Reject as reject:
            self._error(reject.status, str(reject))
            return
        path = self.path.split("?", 1)[0]
        if path in _STATIC:
            name, content_type = _STATIC[path]
            self._send(HTTPStatus.OK, _static(name), content_type)
        elif path == "/api/surfaces":
            self._send(HTTPStatus.OK, _surfaces_json(), "application/json", cache=True)
        elif path == "/api/optimizers":
            body = _optimizers_json()
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

    do_HEAD = do_GET

    def _body(self) -> object:
        length_text = self.headers.get("Content-Length")
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
            return json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            shown = raw[:60].decode("utf-8", "replace")
            raise _Reject(
                HTTPStatus.BAD_REQUEST,
                f"{OWNER}: the request body must be JSON, got {shown!r} ({error})",
            ) from None

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path != "/api/trajectories":
            known = path in _STATIC or path.startswith("/api/")
            status = HTTPStatus.METHOD_NOT_ALLOWED if known else HTTPStatus.NOT_FOUND
            self._error(status, f"{OWNER}: {path!r} takes no POST")
            return
        try:
            self._check_headers()
            body = self._body()  # HTTP/1.0: one request per connection
            with self.server.computing(self.headers.get(PAGE_HEADER)) as cancelled:
                payload = trajectories_payload(body, cancelled)
        except _Reject as reject:
            self._error(reject.status, str(reject))
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

    request_timeout = REQUEST_TIMEOUT

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.log = log
        self.work = threading.Lock()  # one computation at a time: bounded work
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
    def computing(self, page: str | None) -> Iterator[Callable[[], bool]]:
        """Hold the one computation slot; yield a test of whether a newer request
        from the same ``page`` has arrived since this one did (then this one stops)."""
        mine = object()
        if page is not None:
            with self._pages:
                self._latest[page] = mine
        try:
            with self.work:
                yield lambda: page is not None and self._latest.get(page) is not mine
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
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the playground until interrupted (Ctrl-C), printing its URL first."""
    server = make_server(host, port)
    with server:
        echo(f"gdlab playground: {server.url} (Ctrl-C to stop)")
        if open_browser:
            webbrowser.open(server.url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            echo("gdlab playground: stopped")


__all__ = [
    "MAX_BODY",
    "MAX_DEPTH",
    "MAX_RUNS",
    "MAX_STEPS",
    "PAGE_HEADER",
    "REQUEST_TIMEOUT",
    "PlaygroundServer",
    "RunRequest",
    "TrajectoriesRequest",
    "make_server",
    "optimizers_payload",
    "parse_request",
    "run_trajectory",
    "serve",
    "surfaces_payload",
    "trajectories_payload",
]

"""The playground under load: 200 parallel light POSTs, and a page's request
behind abandoned heavy ones.

1. ``--clients`` (200) POSTs of a 5-step run, opened at once from one thread with
   non-blocking sockets, against the playground server (listen backlog
   ``BACKLOG``) and against the same server with the standard library's backlog of
   5 (its competitor: what ``ThreadingHTTPServer`` does by default). Prints per
   server how many were answered, reset, or not answered within ``--deadline``
   seconds; the slowest connect (1 s or more means a SYN was retransmitted); and
   the median, 99th percentile and slowest answer.
2. ``--abandoned`` (15) heavy requests (12 runs of 2000 Adam steps on Beale) whose
   clients close their connections at once, then one light request (no page
   header, so it has no priority over them): its time against one heavy request
   computed alone (it waits for at most about one run of the first abandoned
   request, not for all of them)::

    .venv/bin/python benchmarks/bench_playground.py
    .venv/bin/python benchmarks/bench_playground.py --clients 100 --abandoned 5
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import statistics
import threading
import time
from typing import Any

from common import no_compilation

from gdlab import playground
from gdlab.playground.server import PlaygroundServer

LIGHT = json.dumps({"surface": "bowl", "steps": 5, "runs": [{"optimizer": "sgd"}]})
HEAVY = json.dumps(
    {
        "surface": "beale",
        "steps": 2000,
        "runs": [{"optimizer": "adam", "lr": 0.01}] * playground.MAX_RUNS,
    }
)


class StandardBacklog(PlaygroundServer):
    """The playground with the standard library's listen backlog."""

    request_queue_size = 5


def request(port: int, body: str, page: str | None = None) -> bytes:
    head = (
        f"POST /api/trajectories HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        + (f"X-Playground-Page: {page}\r\n" if page else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body.encode()


def burst(port: int, n: int, deadline: float) -> list[Any]:
    """``n`` light POSTs opened at once: (connect s, answer s, status) or an error
    for each (None: no answer by the deadline)."""
    selector = selectors.DefaultSelector()
    began: list[float] = []
    connected: dict[int, float] = {}
    answers: dict[int, bytes] = {}
    results: list[Any] = [None] * n
    for i in range(n):
        client = socket.socket()
        client.setblocking(False)
        began.append(time.monotonic())
        client.connect_ex(("127.0.0.1", port))
        selector.register(client, selectors.EVENT_WRITE, i)
    stop = time.monotonic() + deadline
    while any(r is None for r in results) and time.monotonic() < stop:
        for key, _ in selector.select(timeout=1):
            client, i = key.fileobj, key.data
            assert isinstance(client, socket.socket)
            now = time.monotonic()
            try:
                if i not in connected:
                    code = client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code:
                        raise OSError(code, os.strerror(code))
                    connected[i] = now - began[i]
                    client.sendall(request(port, LIGHT))
                    selector.modify(client, selectors.EVENT_READ, i)
                    continue
                chunk = client.recv(65536)
                if chunk:
                    answers[i] = answers.get(i, b"") + chunk
                    continue
                status = int(answers.get(i, b"HTTP/1.0 0").split()[1])
                results[i] = (connected[i], now - began[i], status)
            except OSError as error:
                results[i] = error
            selector.unregister(client)
            client.close()
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()
    return results


def serving(server: PlaygroundServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def light_burst(cls: type[PlaygroundServer], n: int, deadline: float) -> None:
    server = cls("127.0.0.1", 0)
    serving(server)
    try:
        results = burst(server.server_port, n, deadline)
    finally:
        server.shutdown()
        server.server_close()
    done = [r for r in results if isinstance(r, tuple) and r[2] == 200]
    failed = [r for r in results if isinstance(r, BaseException)]
    missing = sum(r is None for r in results)
    print(
        f"backlog {cls.request_queue_size:>4}: {len(done)}/{n} answered, "
        f"{len(failed)} reset or refused, {missing} unanswered after {deadline:g} s"
    )
    if done:
        connects = [r[0] for r in done]
        totals = sorted(r[1] for r in done)
        p99 = totals[min(len(totals) - 1, round(0.99 * len(totals)))]
        print(
            f"              slowest connect {max(connects):.2f} s; answers: median "
            f"{statistics.median(totals):.2f} s, p99 {p99:.2f} s, "
            f"slowest {max(totals):.2f} s"
        )


def one(port: int, body: bytes) -> float:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=600) as client:
        client.sendall(body)
        answer = client.makefile("rb").read()
    assert answer.split()[1] == b"200", answer[:200]
    return time.monotonic() - started


def abandoned(n: int) -> None:
    server = playground.make_server(port=0)
    serving(server)
    port = server.server_port
    try:
        one(port, request(port, HEAVY))  # compiles the kernels: not timed
        one(port, request(port, LIGHT))
        with no_compilation("bench_playground: abandoned requests"):
            alone = one(port, request(port, HEAVY))
            for _ in range(n):
                with socket.create_connection(("127.0.0.1", port)) as client:
                    client.sendall(request(port, HEAVY))
            time.sleep(0.2)
            light = one(port, request(port, LIGHT))
    finally:
        server.shutdown()
        server.server_close()
    print(
        f"a light request behind {n} abandoned heavy ones: {light:.2f} s "
        f"(one heavy request alone: {alone:.2f} s; {light / alone:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--deadline", type=float, default=60.0)
    parser.add_argument("--abandoned", type=int, default=15)
    args = parser.parse_args()
    for cls in (PlaygroundServer, StandardBacklog):
        light_burst(cls, args.clients, args.deadline)
    abandoned(args.abandoned)


if __name__ == "__main__":
    main()

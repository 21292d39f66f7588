"""A FoodData Central stand-in for tests: a real HTTP server on 127.0.0.1.

It serves the hand-written responses in ``tests/data/fdc/`` at the API's
paths, checks the ``api_key`` query parameter, records every request, and can
be scripted per path to answer with errors, delays or broken bodies first::

    with FakeFdc() as fdc:
        fdc.script("/v1/food/171265", Reply(429, headers={"Retry-After": "2"}))
        get_food(171265, base_url=fdc.url)   # 429 first, then the saved food

``Reply(trickle_s=5)`` sends the body one byte every 5 s; ``Reply(length=False)``
leaves out ``Content-Length`` (the body ends when the connection closes), so a
client cannot refuse a large body before reading it.

Nothing here touches the internet.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

DATA_DIR = Path(__file__).resolve().parent / "data" / "fdc"
VALID_KEYS = frozenset({"DEMO_KEY", "test-key"})
BAD_KEY_BODY = {"error": {"code": "API_KEY_INVALID",
                          "message": "An invalid api_key was supplied. Get one at "
                                     "https://api.nal.usda.gov:443"}}


def saved(name: str) -> Any:
    """A saved response from ``tests/data/fdc/<name>.json``."""
    return json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def saved_foods() -> dict[int, dict]:
    """Every saved food-details response, by FDC id."""
    foods = (json.loads(p.read_text(encoding="utf-8"))
             for p in sorted(DATA_DIR.glob("food_*.json")))
    return {food["fdcId"]: food for food in foods}


def closed_port_url() -> str:
    """A loopback URL on which nothing listens (the port was just released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class Reply:
    """A scripted answer: ``body`` dict/list is sent as JSON, str/bytes as is."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering [s]
    trickle_s: float = 0.0  # send the body one byte at a time, this far apart [s]
    length: bool = True  # send Content-Length (else the body ends when the connection does)


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


class FakeFdc:
    """FoodData Central on 127.0.0.1:<free port>, serving ``foods`` and ``search``."""

    def __init__(self, foods: dict[int, dict] | None = None, search: dict | None = None):
        self.foods = saved_foods() if foods is None else foods
        self.search = saved("search_milk") if search is None else search
        self.requests: list[Seen] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        """The API root to pass as ``base_url`` (no trailing slash)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with ``replies``, in order;
        afterwards the path is served normally again."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def hits(self, path: str) -> int:
        """How many requests reached ``path``."""
        return sum(1 for seen in self.requests if seen.path == path)

    def start(self) -> FakeFdc:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeFdc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Called from the handler threads -------------------------------------

    def answer(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            queue = self._scripts.get(seen.path)
            if queue:
                return queue.popleft()
        if seen.query.get("api_key") not in VALID_KEYS:
            return Reply(403, BAD_KEY_BODY)
        return self._route(seen)

    def _route(self, seen: Seen) -> Reply:
        """The API's own behaviour for the three paths the importer uses."""
        if seen.path.startswith("/v1/food/"):
            food = self.foods.get(_int(seen.path.rsplit("/", 1)[1]))
            return Reply(200, food) if food else Reply(404, {"error": "Not Found"})
        if seen.path == "/v1/foods":
            ids = _ids(seen)
            return Reply(200, [self.foods[i] for i in ids if i in self.foods])
        if seen.path == "/v1/foods/search":
            size = _int(seen.query.get("pageSize", "50")) or 50
            return Reply(200, {**self.search, "foods": self.search["foods"][:size]})
        return Reply(404, {"error": "Not Found"})


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _ids(seen: Seen) -> list[int]:
    """The ids of a ``/v1/foods`` request: the JSON body, else ``?fdcIds=1,2``."""
    if isinstance(seen.body, dict) and "fdcIds" in seen.body:
        return [int(i) for i in seen.body["fdcIds"]]
    text = seen.query.get("fdcIds", "")
    return [int(i) for i in text.split(",") if i.strip().isdigit()]


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeFdc/1.0"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        reply = self.server.fake.answer(  # type: ignore[attr-defined]
            Seen(self.command, parts.path, query, body))
        time.sleep(reply.delay_s)
        payload = _encode(reply.body)
        try:
            self.send_response(reply.status)
            is_json = isinstance(reply.body, (dict, list))
            self.send_header("Content-Type",
                             "application/json" if is_json else "text/plain")
            if reply.length:
                self.send_header("Content-Length", str(len(payload)))
            else:
                self.close_connection = True
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if reply.trickle_s:
                for i in range(len(payload)):
                    self.wfile.write(payload[i:i + 1])
                    self.wfile.flush()
                    time.sleep(reply.trickle_s)
            else:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests); nothing to answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep test output quiet."""


def _encode(body: Any) -> bytes:
    if isinstance(body, (dict, list)):
        return json.dumps(body).encode("utf-8")
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)

"""Shared fixtures: a real HTTP server on 127.0.0.1 that serves generated images
with faults chosen by URL path, and a helper that builds fetch settings.

Routes (NAME is any file name; the same NAME always gives the same image bytes):

    /ok/NAME                    200 with the image
    /flaky/N/NAME               500 for the first N requests of this path, then the image
    /retry-after/S/NAME         429 with `Retry-After: S` the first time, then the image
    /always500/NAME             500 every time
    /status/CODE/NAME           that status with a short text body (404, 403, ...)
    /stall/NAME                 headers and part of the body, then silence (STALL_SECONDS)
    /stall-headers/NAME         no response at all for STALL_SECONDS
    /truncated/NAME             Content-Length of the image, half of it sent, then close
    /truncated-once/NAME        truncated the first time, then the whole image
    /html/NAME                  an HTML page served as image/jpeg
    /big/SIZE/NAME              SIZE bytes (a JPEG padded) with a Content-Length
    /big-chunked/SIZE/NAME      the same, chunked, no Content-Length
    /endless/NAME               bytes forever (no length) until the client goes away
    /drip/NAME                  1 byte every DRIP_INTERVAL seconds (no length)
    /drip-every/S/NAME          1 byte every S seconds (no length)
    /reset/NAME                 the connection reset (RST) before any response
    /reset-body/NAME            headers and half the body, then a reset
    /redirect-to/URL/NAME       302 to unquote(URL) (anywhere, another host included)
    /loop/NAME                  302 to itself
    /chain/K/NAME               302 to /chain/K-1/NAME ... /chain/0/NAME is the image
    /robots/VALUE/NAME          the image with `X-Robots-Tag: unquote(VALUE)`
    /slow/SECONDS/NAME          the image after a sleep; concurrency is measured

Every request is recorded (path, headers, time). Every streaming loop ends when
the client disconnects, after LOOP_LIMIT seconds, or when the fixture stops.
"""

from __future__ import annotations

import functools
import os
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest

from irdata import config as irconfig
from irdata.demo import synth

IMAGE_SIZE = (768, 576)  # passes the default 512 min side
STALL_SECONDS = 5.0  # longer than the test read timeout
DRIP_INTERVAL = 0.2
LOOP_LIMIT = 30.0  # no handler streams longer than this
STREAM_CHUNK = 64 * 1024
HTML = b"<!doctype html><html><head><title>Not here</title></head><body>gone</body></html>"

TEST_FETCH = {
    "connect_timeout": 2.0, "read_timeout": 1.0, "total_timeout": 3.0,
    "backoff": 0.05, "backoff_max": 0.2, "allow_private_networks": True,
    "threads": 4,
}


@functools.cache
def image_bytes(name: str) -> bytes:
    """The JPEG served for `name` (deterministic, cached)."""
    seed = zlib.crc32(name.encode("utf-8"))
    return synth.encode(synth.procedural_image(seed, *IMAGE_SIZE), "jpg")


def padded_image(name: str, size: int) -> bytes:
    """`size` bytes that start like a real JPEG."""
    data = image_bytes(name)
    return data[:size] + b"\0" * max(0, size - len(data))


def make_fetch_config(**overrides) -> dict:
    """Full, validated `fetch` settings with small test timeouts plus `overrides`."""
    raw = {
        "sources": [{"name": "tests", "dir": os.path.dirname(os.path.abspath(__file__))}],
        "fetch": {**TEST_FETCH, **overrides},
    }
    return irconfig.validate(raw, "test")["fetch"]


@dataclass
class Seen:
    """One request as the server saw it."""

    path: str
    headers: dict
    at: float


@dataclass
class ServerState:
    """Everything the handlers share: counters, records, the stop flag."""

    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: list[Seen] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    streams: dict[str, dict] = field(default_factory=dict)  # path -> sent, ended

    def record(self, path: str, headers: dict) -> int:
        """Store the request; return how many times this path was asked for before."""
        with self.lock:
            self.seen.append(Seen(path, headers, time.monotonic()))
            count = self.hits.get(path, 0)
            self.hits[path] = count + 1
            return count


class FaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FaultServer/1"
    timeout = 10  # an idle keep-alive connection or a blocked write ends after this
    state: ServerState  # set per server by the fixture
    route_path = ""

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # a client closing a kept-alive connection is normal here
            pass

    def do_GET(self) -> None:
        path = self.route_path = urlsplit(self.path).path
        before = self.state.record(path, {k: v for k, v in self.headers.items()})
        parts = path.strip("/").split("/")
        route = ROUTES.get(parts[0])
        if route is None:
            return self._send(404, b"no such route", "text/plain")
        try:
            route(self, parts[1:], before)
        except OSError:  # the client went away or stopped reading
            self.close_connection = True

    # -- building blocks ---------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str = "image/jpeg",
              headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _start_stream(self, ctype: str = "image/jpeg", extra: dict | None = None) -> None:
        """Headers of a close-delimited body (no Content-Length)."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _stream(self, path: str, piece: bytes, interval: float) -> None:
        """Write `piece` every `interval` s until disconnect, LOOP_LIMIT or stop."""
        info = {"sent": 0, "ended": "running", "started": time.monotonic()}
        self.state.streams[path] = info
        end = info["started"] + LOOP_LIMIT
        try:
            while time.monotonic() < end and not self.state.stop.is_set():
                self.wfile.write(piece)
                self.wfile.flush()
                info["sent"] += len(piece)
                if interval:
                    self.state.stop.wait(interval)
            info["ended"] = "limit"
        except OSError:  # reset, broken pipe, or the write timed out
            info["ended"] = "disconnect"
        info["seconds"] = time.monotonic() - info["started"]
        self.close_connection = True


def _ok(h: FaultHandler, args: list[str], before: int) -> None:
    h._send(200, image_bytes(args[-1]))


def _flaky(h: FaultHandler, args: list[str], before: int) -> None:
    if before < int(args[0]):
        return h._send(500, b"try again", "text/plain")
    h._send(200, image_bytes(args[-1]))


def _retry_after(h: FaultHandler, args: list[str], before: int) -> None:
    if before == 0:
        return h._send(429, b"slow down", "text/plain", {"Retry-After": args[0]})
    h._send(200, image_bytes(args[-1]))


def _always500(h: FaultHandler, args: list[str], before: int) -> None:
    h._send(500, b"broken", "text/plain")


def _status(h: FaultHandler, args: list[str], before: int) -> None:
    h._send(int(args[0]), b"status page", "text/plain")


def _image_head(h: FaultHandler, data: bytes, extra: dict | None = None) -> None:
    """Status line and headers announcing all of `data`; the body is up to the route."""
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    h.send_header("Content-Length", str(len(data)))
    for key, value in (extra or {}).items():
        h.send_header(key, value)
    h.end_headers()


def _stall(h: FaultHandler, args: list[str], before: int) -> None:
    data = image_bytes(args[-1])
    _image_head(h, data)
    h.wfile.write(data[:1000])
    h.wfile.flush()
    h.state.stop.wait(STALL_SECONDS)
    h.wfile.write(data[1000:])


def _stall_headers(h: FaultHandler, args: list[str], before: int) -> None:
    h.state.stop.wait(STALL_SECONDS)
    h._send(200, image_bytes(args[-1]))


def _truncated(h: FaultHandler, args: list[str], before: int) -> None:
    data = image_bytes(args[-1])
    h.close_connection = True
    _image_head(h, data, {"Connection": "close"})
    h.wfile.write(data[: len(data) // 2])
    h.wfile.flush()


def _truncated_once(h: FaultHandler, args: list[str], before: int) -> None:
    if before == 0:
        return _truncated(h, args, before)
    h._send(200, image_bytes(args[-1]))


def _html(h: FaultHandler, args: list[str], before: int) -> None:
    h._send(200, HTML, "image/jpeg")


def _big(h: FaultHandler, args: list[str], before: int) -> None:
    h._send(200, padded_image(args[-1], int(args[0])))


def _big_chunked(h: FaultHandler, args: list[str], before: int) -> None:
    data = padded_image(args[-1], int(args[0]))
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    for start in range(0, len(data), STREAM_CHUNK):
        piece = data[start:start + STREAM_CHUNK]
        h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    h.wfile.write(b"0\r\n\r\n")


def _endless(h: FaultHandler, args: list[str], before: int) -> None:
    h._start_stream()
    h.wfile.write(image_bytes(args[-1])[:1000])
    h._stream(h.route_path, b"\0" * STREAM_CHUNK, 0)


def _drip(h: FaultHandler, args: list[str], before: int) -> None:
    h._start_stream()
    h._stream(h.route_path, b"\xff", DRIP_INTERVAL)


def _drip_every(h: FaultHandler, args: list[str], before: int) -> None:
    h._start_stream()
    h._stream(h.route_path, b"\xff", float(args[0]))


def _reset_now(h: FaultHandler) -> None:
    """Close with SO_LINGER 0: the client sees a connection reset, not an orderly end."""
    h.wfile.flush()
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def _reset(h: FaultHandler, args: list[str], before: int) -> None:
    _reset_now(h)


def _reset_body(h: FaultHandler, args: list[str], before: int) -> None:
    data = image_bytes(args[-1])
    _image_head(h, data)
    h.wfile.write(data[: len(data) // 2])
    _reset_now(h)


def _redirect_to(h: FaultHandler, args: list[str], before: int) -> None:
    h._send(302, b"", "text/plain", {"Location": unquote(args[0])})


def _loop(h: FaultHandler, args: list[str], before: int) -> None:
    h._send(302, b"", "text/plain", {"Location": h.route_path})


def _chain(h: FaultHandler, args: list[str], before: int) -> None:
    left = int(args[0])
    if left <= 0:
        return h._send(200, image_bytes(args[-1]))
    h._send(302, b"", "text/plain", {"Location": f"/chain/{left - 1}/{args[-1]}"})


def _robots(h: FaultHandler, args: list[str], before: int) -> None:
    h._send(200, image_bytes(args[-1]), headers={"X-Robots-Tag": unquote(args[0])})


def _slow(h: FaultHandler, args: list[str], before: int) -> None:
    state = h.state
    with state.lock:
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        state.stop.wait(float(args[0]))
    finally:
        with state.lock:
            state.in_flight -= 1
    h._send(200, image_bytes(args[-1]))


ROUTES = {
    "ok": _ok, "flaky": _flaky, "retry-after": _retry_after, "always500": _always500,
    "status": _status, "stall": _stall, "stall-headers": _stall_headers,
    "truncated": _truncated, "truncated-once": _truncated_once, "html": _html, "big": _big, "big-chunked": _big_chunked,
    "endless": _endless, "drip": _drip, "drip-every": _drip_every, "reset": _reset,
    "reset-body": _reset_body, "redirect-to": _redirect_to, "loop": _loop, "chain": _chain,
    "robots": _robots, "slow": _slow,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default 5 drops SYNs of a burst (1 s retransmit)
    accepted = 0  # TCP connections accepted, requests or not

    def get_request(self):
        request = super().get_request()
        self.accepted += 1
        return request


class FaultServer:
    """A running fault server: URLs, request records and served bytes."""

    def __init__(self, host: str = "127.0.0.1"):
        self.state = ServerState()
        handler = type("Handler", (FaultHandler,), {"state": self.state})
        self.httpd = _Server((host, 0), handler)
        self.port = self.httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fault-server", daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    @staticmethod
    def image(name: str) -> bytes:
        """The image bytes every image route serves for file name `name`."""
        return image_bytes(name)

    def requests(self, path: str | None = None) -> list[Seen]:
        """Recorded requests, all or for one path."""
        with self.state.lock:
            return [s for s in self.state.seen if path is None or s.path == path]

    def hits(self, path: str) -> int:
        with self.state.lock:
            return self.state.hits.get("/" + path.lstrip("/"), 0)

    def stream(self, path: str) -> dict:
        """What a streaming handler (endless, drip) recorded for `path`."""
        return self.state.streams.get("/" + path.lstrip("/"), {})

    def wait_stream_end(self, path: str, timeout: float = 5.0) -> dict:
        """Wait until the streaming handler of `path` stopped; return its record."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            info = self.stream(path)
            if info.get("ended", "running") != "running":
                return info
            time.sleep(0.05)
        return self.stream(path)

    @property
    def max_in_flight(self) -> int:
        return self.state.max_in_flight

    @property
    def accepted(self) -> int:
        """TCP connections the server accepted (a refused-in-time client makes none)."""
        return self.httpd.accepted

    def close(self) -> None:
        self.state.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def fault_server():
    """A fresh fault server per test (fresh per-path counters and records)."""
    server = FaultServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def private_fault_server():
    """The same routes on 127.0.0.2: the stand-in for an internal service that a
    redirect from the allowed host (fault_server) points at."""
    server = FaultServer("127.0.0.2")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def module_fault_server():
    """One fault server shared by a module (for a module-scoped build)."""
    server = FaultServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fetch_config():
    """Builder of full `fetch` settings: `fetch_config(retries=1, ...)`."""
    return make_fetch_config


class _SlowHandler(SimpleHTTPRequestHandler):
    delay = 0.0

    def do_GET(self):
        time.sleep(self.delay)
        super().do_GET()

    def log_message(self, format, *args):
        pass


def serve_folder(folder, delay: float = 0.0):
    """A threaded HTTP server of `folder` on 127.0.0.1 answering after `delay` s:
    (server, base URL, handler class; set its `delay` to slow it down later)."""
    handler = functools.partial(type("H", (_SlowHandler,), {"delay": delay}),
                                directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}", handler.func


@pytest.fixture
def served(tmp_path):
    """A folder of generated photos served on 127.0.0.1 with a per-request delay."""
    folder = tmp_path / "served"
    folder.mkdir()
    httpd, base, handler = serve_folder(folder)
    yield folder, base, handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's standalone S3 server on 127.0.0.1 (as s3fs tests itself), with fake
    credentials and the endpoint in the environment, so subprocesses use it too."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update({**S3_ENV, "AWS_ENDPOINT_URL": endpoint})
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.update({key: value})


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": ""}


@pytest.fixture
def s3_bucket(s3_endpoint, request):
    """A fresh bucket on the local S3 server: its s3:// URL."""
    import uuid

    import s3fs

    name = f"irdata-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir(name)
    yield f"s3://{name}"


def stop_processes(procs) -> None:
    """Terminate started processes (last first), killing any still up after 20 s."""
    import subprocess

    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()

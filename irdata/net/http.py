"""HTTP downloads with retries, caps, politeness and the private-network guard.
`Fetcher.get` never raises for a network or server problem: its Download's `reason`
says why; `attempts` counts every request sent; `total_timeout` bounds the whole call."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from irdata.net.guard import GUARDED_POOLS, BlockedAddress

RETRY_STATUSES = (429, 500, 502, 503, 504)
OPTOUT_DIRECTIVES = {"noai", "noimageai"}
CHUNK = 256 * 1024


@dataclass
class Download:
    """What one URL gave: bytes, or a status and reason saying why not."""

    url: str
    data: bytes = b""
    status: str = "ok"  # ok / failed / dropped
    reason: str = ""
    detail: str = ""
    http_status: int | None = None
    attempts: int = 0
    headers: dict = field(default_factory=dict)


class _BodyError(Exception):
    def __init__(self, status: str, reason: str, detail: str, retry: bool = False):
        super().__init__(detail)
        self.status, self.reason, self.detail, self.retry = status, reason, detail, retry


class CappedRetry(Retry):
    """urllib3 Retry honouring Retry-After up to `retry_after_cap` seconds (not named
    `retry_after_max`: urllib3 2.x has an __init__ argument of that name that hides it)."""

    retry_after_cap = 60.0

    def get_retry_after(self, response):
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.retry_after_cap)

    def increment(self, *args, **kwargs):
        """Retry.increment; an error it raises records how many tries were made."""
        try:
            return super().increment(*args, **kwargs)
        except Exception as exc:
            exc.irdata_attempts = len(self.history) + 1
            raise


def optout_directives(header_value: str | None) -> set[str]:
    """noai/noimageai directives in an X-Robots-Tag value (any bot prefix)."""
    if not header_value:
        return set()
    found = set()
    for part in header_value.lower().replace(";", ",").split(","):
        token = part.split(":")[-1].strip()
        if token in OPTOUT_DIRECTIVES:
            found.add(token)
    return found


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(GUARDED_POOLS)


def _retry_policy(cfg: dict) -> Retry:
    policy = type("Retry", (CappedRetry,), {"retry_after_cap": cfg["retry_after_max"]})
    return policy(
        total=cfg["retries"], connect=cfg["retries"], read=cfg["retries"],
        status=cfg["retries"], other=0, redirect=None,
        status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"GET", "HEAD"}),
        backoff_factor=cfg["backoff"], backoff_max=cfg["backoff_max"],
        backoff_jitter=cfg["backoff"], respect_retry_after_header=True,
        raise_on_status=False, raise_on_redirect=False,
    )


def make_session(cfg: dict) -> requests.Session:
    """A requests session with the retry policy, pool sizes and address guard."""
    session = requests.Session()
    session.trust_env = cfg["use_env_proxies"]
    session.max_redirects = cfg["max_redirects"]
    session.headers["User-Agent"] = cfg["user_agent"]
    session.headers["Accept"] = "image/*,*/*;q=0.5"
    adapter_cls = HTTPAdapter if cfg["allow_private_networks"] else _GuardedAdapter
    size = max(cfg["threads"], 4)
    adapter = adapter_cls(max_retries=_retry_policy(cfg), pool_connections=size,
                          pool_maxsize=size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _attempts_of(response: requests.Response) -> int:
    retries = getattr(response.raw, "retries", None)
    return 1 + len(retries.history) if retries is not None else 1


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions behind it (cause, context, urllib3 `reason`)."""
    chain, cause = [], exc
    while cause is not None and len(chain) < 8:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__ or getattr(cause, "reason", None)
        if not isinstance(cause, BaseException):
            cause = None
    return chain


def _error_attempts(exc: Exception) -> int:
    """Requests sent before urllib3 gave up with `exc` (1 when it did not retry)."""
    return next((i.irdata_attempts for i in _chain(exc) if hasattr(i, "irdata_attempts")), 1)


def _is_timeout(exc: BaseException) -> bool:
    # NewConnectionError (refused, DNS) subclasses urllib3's ConnectTimeoutError.
    return (isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError))
            and not isinstance(exc, urllib3.exceptions.NewConnectionError))


def _error_reason(exc: Exception) -> tuple[str, str]:
    """Map a requests/urllib3 exception to (reason, detail)."""
    chain = _chain(exc)
    detail = str(exc)[:300]
    for item in chain:
        if isinstance(item, BlockedAddress):
            return "private_address", str(item)
    if isinstance(exc, requests.TooManyRedirects):
        return "too_many_redirects", detail
    if any(_is_timeout(i) for i in chain):  # read timeouts arrive wrapped in MaxRetryError
        return "timeout", detail
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, UnicodeError, ValueError)):
        return "bad_url", detail
    if any(isinstance(i, urllib3.exceptions.NameResolutionError) for i in chain):
        return "dns_error", detail
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls_error", detail
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError,
                        urllib3.exceptions.ProtocolError)):
        return "truncated_body", detail
    return "connection_error", detail


_CLUSTER_SLOTS: dict[tuple[str, int], object] = {}
_CLUSTER_LOCK = threading.Lock()


def cluster_scheduler():
    """(scheduler rpc, event loop) of the Dask worker running this task, or None
    outside one. Called in the task's thread (download threads cannot find it)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    return worker.scheduler, worker.loop


@contextmanager
def cluster_slot(host: str, limit: int | None, scheduler):
    """A lease of the cluster-wide semaphore of `host` (a Dask Semaphore shared by
    every worker, `limit` leases) when on a Dask worker (`scheduler`); else nothing."""
    if not limit or scheduler is None:
        yield
        return
    from distributed import Semaphore

    with _CLUSTER_LOCK:
        key = (host, limit)
        if key not in _CLUSTER_SLOTS:
            rpc, loop = scheduler
            _CLUSTER_SLOTS[key] = Semaphore(max_leases=limit, name=f"irdata-host-{host}",
                                            scheduler_rpc=rpc, loop=loop)
        semaphore = _CLUSTER_SLOTS[key]
    with semaphore:
        yield


class Fetcher:
    """Thread-safe downloader; one per worker process and partition."""

    def __init__(self, cfg: dict, max_bytes: int | None = None):
        self.cfg = cfg
        self.max_bytes = cfg["max_bytes"] if max_bytes is None else max_bytes
        self.session = make_session(cfg)
        self._host_slots: dict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(cfg["per_host"]))
        self._lock = threading.Lock()
        self._scheduler = cluster_scheduler() if cfg.get("cluster_per_host") else None

    def close(self) -> None:
        self.session.close()

    @contextmanager
    def _host_slot(self, url: str):
        """A request slot: one of `per_host` in this process and, with
        `cluster_per_host`, one of that many across the whole Dask cluster."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            slot = self._host_slots[host]
        with slot, cluster_slot(host, self.cfg.get("cluster_per_host"), self._scheduler):
            yield

    def get(self, url: str, sink=None) -> Download:
        """Download `url`; body failures are retried like connection errors within
        `total_timeout`. With `sink` (a binary file), bytes go there, not into memory."""
        result = Download(url=url)
        deadline = time.monotonic() + self.cfg["total_timeout"]
        for round_ in range(self.cfg["retries"] + 1):
            if round_:
                pause = min(self.cfg["backoff"] * 2 ** round_, self.cfg["backoff_max"])
                time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
                if time.monotonic() >= deadline:
                    break
                if sink is not None:
                    sink.seek(0)
                    sink.truncate()
            retry = self._get_once(url, result, sink, deadline)
            if not retry:
                break
        return result

    def _timeouts(self, deadline: float) -> tuple[float, float]:
        """(connect, read) timeouts, neither longer than the time left."""
        left = max(0.001, deadline - time.monotonic())
        return min(self.cfg["connect_timeout"], left), min(self.cfg["read_timeout"], left)

    def _get_once(self, url: str, result: Download, sink, deadline: float) -> bool:
        """One round (urllib3 retries inside it); True if the body failure merits another."""
        result.http_status, result.headers, answered = None, {}, False
        try:
            with self._host_slot(url), self.session.get(
                    url, stream=True, timeout=self._timeouts(deadline)) as response:
                answered = True
                result.attempts += _attempts_of(response)
                result.http_status = response.status_code
                result.headers = {k.lower(): v for k, v in response.headers.items()}
                self._check_response(response)
                result.data = self._read_body(response, deadline, sink)
        except _BodyError as err:
            result.status, result.reason, result.detail = err.status, err.reason, err.detail
            return err.retry
        except Exception as exc:
            result.attempts += 0 if answered else _error_attempts(exc)
            result.status = "failed"
            result.reason, result.detail = _error_reason(exc)
            return False
        result.status, result.reason, result.detail = "ok", "", ""
        return False

    def _check_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status >= 400:
            raise _BodyError("failed", f"http_{status}", f"HTTP {status} {response.reason}")
        if status != 200:
            raise _BodyError("failed", f"http_{status}", f"unexpected HTTP {status}")
        if self.cfg["respect_optout"]:
            found = optout_directives(response.headers.get("X-Robots-Tag"))
            if found:
                raise _BodyError("dropped", "optout",
                                 f"X-Robots-Tag: {', '.join(sorted(found))}")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise _BodyError("dropped", "too_large",
                             f"Content-Length {declared} > cap {self.max_bytes}")

    def _read_body(self, response: requests.Response, deadline: float, sink) -> bytes:
        chunks, total = [], 0
        try:
            while chunk := response.raw.read1(CHUNK, decode_content=True):
                total += len(chunk)
                if total > self.max_bytes:
                    raise _BodyError("dropped", "too_large",
                                     f"body larger than cap {self.max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise _BodyError("failed", "timeout",
                                     f"download exceeded {self.cfg['total_timeout']} s")
                if sink is not None:
                    sink.write(chunk)
                else:
                    chunks.append(chunk)
        except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError,
                requests.Timeout, urllib3.exceptions.HTTPError) as exc:
            reason, detail = _error_reason(exc)
            raise _BodyError("failed", reason, detail, retry=True) from None
        return b"".join(chunks)

"""Fetcher.get against a real HTTP server on 127.0.0.1 with injected faults.

Test settings (conftest.TEST_FETCH): connect 2 s, read 1 s, total 3 s, backoff
0.05 s, retries 3 (the default), private networks allowed.
"""

from __future__ import annotations

import io
import threading
import time

import pytest

from irdata.net.guard import is_public_address
from irdata.net.http import Fetcher, optout_directives

MiB = 1024 * 1024


@pytest.fixture
def fetch(fetch_config):
    """fetch(url, cap=None, **settings) -> (Download, seconds), one Fetcher per call;
    `cap` is Fetcher's max_bytes argument, settings are `fetch` config keys."""
    def run(url: str, cap: int | None = None, **settings):
        fetcher = Fetcher(fetch_config(**settings), max_bytes=cap)
        started = time.monotonic()
        try:
            return fetcher.get(url), time.monotonic() - started
        finally:
            fetcher.close()
    return run


# -- success and identity -------------------------------------------------------

def test_plain_image_is_returned_byte_for_byte(fault_server, fetch):
    got, _ = fetch(fault_server.url("ok/a.jpg"))
    assert (got.status, got.reason, got.http_status, got.attempts) == ("ok", "", 200, 1)
    assert got.data == fault_server.image("a.jpg")
    assert got.headers["content-type"] == "image/jpeg"
    assert fault_server.hits("ok/a.jpg") == 1


def test_user_agent_names_irdata(fault_server, fetch, fetch_config):
    fetch(fault_server.url("ok/ua.jpg"))
    (seen,) = fault_server.requests("/ok/ua.jpg")
    agent = seen.headers["User-Agent"]
    assert agent == fetch_config()["user_agent"]
    assert agent.startswith("irdata/")


def test_configured_user_agent_is_sent(fault_server, fetch):
    fetch(fault_server.url("ok/ua2.jpg"), user_agent="irdata-test/9 (+mailto:x@example.org)")
    (seen,) = fault_server.requests("/ok/ua2.jpg")
    assert seen.headers["User-Agent"] == "irdata-test/9 (+mailto:x@example.org)"


# -- retries --------------------------------------------------------------------

@pytest.mark.parametrize("retries", [0, 1, 3])
def test_always_500_fails_after_every_retry(fault_server, fetch, retries):
    got, _ = fetch(fault_server.url("always500/a.jpg"), retries=retries)
    assert (got.status, got.reason, got.http_status) == ("failed", "http_500", 500)
    assert got.attempts == retries + 1
    assert fault_server.hits("always500/a.jpg") == retries + 1
    assert got.data == b""


def test_transient_500s_succeed_on_retry(fault_server, fetch):
    got, _ = fetch(fault_server.url("flaky/2/a.jpg"))
    assert (got.status, got.reason, got.http_status, got.attempts) == ("ok", "", 200, 3)
    assert got.data == fault_server.image("a.jpg")
    assert fault_server.hits("flaky/2/a.jpg") == 3


def test_more_500s_than_retries_fail(fault_server, fetch):
    got, _ = fetch(fault_server.url("flaky/3/a.jpg"), retries=2)
    assert (got.status, got.reason, got.attempts) == ("failed", "http_500", 3)
    assert fault_server.hits("flaky/3/a.jpg") == 3


def test_429_waits_for_retry_after_then_succeeds(fault_server, fetch):
    got, seconds = fetch(fault_server.url("retry-after/1/a.jpg"))
    assert (got.status, got.http_status, got.attempts) == ("ok", 200, 2)
    assert got.data == fault_server.image("a.jpg")
    first, second = fault_server.requests("/retry-after/1/a.jpg")
    assert 0.9 <= second.at - first.at < 2.0  # Retry-After: 1, not the 0.05 s backoff
    assert seconds < 2.5


def test_retry_after_is_capped(fault_server, fetch):
    got, seconds = fetch(fault_server.url("retry-after/30/a.jpg"), retry_after_max=0.2)
    assert (got.status, got.attempts) == ("ok", 2)
    assert seconds < 2.0


def test_404_is_not_retried(fault_server, fetch):
    got, _ = fetch(fault_server.url("status/404/a.jpg"))
    assert (got.status, got.reason, got.http_status, got.attempts) == ("failed", "http_404", 404, 1)
    assert fault_server.hits("status/404/a.jpg") == 1


# -- broken bodies ----------------------------------------------------------------

def test_stalled_body_times_out(fault_server, fetch):
    got, seconds = fetch(fault_server.url("stall/a.jpg"))
    assert (got.status, got.reason, got.http_status) == ("failed", "timeout", 200)
    assert got.data == b""
    assert got.attempts == fault_server.hits("stall/a.jpg") >= 2  # retried while time allows
    assert seconds < 3.0 + 1.5  # one deadline for the call, retries included


def test_stall_before_headers_is_a_timeout_with_every_attempt_counted(fault_server, fetch):
    got, seconds = fetch(fault_server.url("stall-headers/a.jpg"), retries=1)
    assert (got.status, got.reason, got.http_status) == ("failed", "timeout", None)
    assert got.attempts == fault_server.hits("stall-headers/a.jpg") == 2
    assert seconds < 3.0


def test_truncated_body_fails_after_retries(fault_server, fetch):
    got, _ = fetch(fault_server.url("truncated/a.jpg"))
    assert (got.status, got.reason, got.http_status) == ("failed", "truncated_body", 200)
    assert got.attempts == fault_server.hits("truncated/a.jpg") == 4
    assert got.data == b""


def test_truncated_once_then_whole_body_into_a_sink(fault_server, fetch_config):
    fetcher = Fetcher(fetch_config())
    sink = io.BytesIO()
    try:
        got = fetcher.get(fault_server.url("truncated-once/s.jpg"), sink=sink)
    finally:
        fetcher.close()
    assert (got.status, got.reason, got.attempts) == ("ok", "", 2)
    assert sink.getvalue() == fault_server.image("s.jpg")  # the partial first try is gone
    assert got.data == b""


def test_html_is_returned_as_served(fault_server, fetch):
    # The fetcher does not judge content; inspect sniffs magic bytes later.
    got, _ = fetch(fault_server.url("html/a.jpg"))
    assert (got.status, got.http_status) == ("ok", 200)
    assert got.data.startswith(b"<!doctype html>")
    assert got.headers["content-type"] == "image/jpeg"


# -- byte cap and total deadline -------------------------------------------------------

@pytest.mark.parametrize("route", ["big", "big-chunked"])
def test_oversized_body_is_dropped(fault_server, fetch, route):
    got, _ = fetch(fault_server.url(f"{route}/{2 * MiB}/a.jpg"), cap=MiB)
    assert (got.status, got.reason, got.http_status, got.attempts) == (
        "dropped", "too_large", 200, 1)
    assert got.data == b""
    assert fault_server.hits(f"{route}/{2 * MiB}/a.jpg") == 1
    # A declared length over the cap is refused before any body byte is read.
    assert ("Content-Length 2097152" in got.detail) == (route == "big")


@pytest.mark.parametrize("route", ["big", "big-chunked"])
def test_body_of_exactly_the_cap_is_kept(fault_server, fetch, route):
    got, _ = fetch(fault_server.url(f"{route}/{MiB}/a.jpg"), cap=MiB)
    assert (got.status, got.reason) == ("ok", "")
    assert len(got.data) == MiB
    assert got.data.startswith(fault_server.image("a.jpg")[:1000])


def test_config_max_bytes_is_the_default_cap(fault_server, fetch):
    got, _ = fetch(fault_server.url(f"big-chunked/{2 * MiB}/a.jpg"), max_bytes="1MiB")
    assert (got.status, got.reason) == ("dropped", "too_large")
    got, _ = fetch(fault_server.url(f"big/{2 * MiB}/b.jpg"), max_bytes="3MiB")
    assert (got.status, len(got.data)) == ("ok", 2 * MiB)


def test_endless_body_is_stopped_by_the_cap(fault_server, fetch):
    got, seconds = fetch(fault_server.url("endless/a.jpg"), cap=MiB)
    assert (got.status, got.reason, got.http_status, got.attempts) == (
        "dropped", "too_large", 200, 1)
    assert seconds < 2.0
    stream = fault_server.wait_stream_end("endless/a.jpg")
    assert stream["ended"] == "disconnect"  # the client hung up, the server did not give up
    assert stream["seconds"] < 5.0


def test_drip_is_stopped_by_total_timeout(fault_server, fetch):
    got, seconds = fetch(fault_server.url("drip/a.jpg"))
    assert (got.status, got.reason, got.http_status) == ("failed", "timeout", 200)
    assert 2.9 <= seconds < 3.0 + 1.5  # the deadline, not the 1 s read timeout
    assert got.attempts == fault_server.hits("drip/a.jpg") == 1
    assert fault_server.wait_stream_end("drip/a.jpg")["ended"] == "disconnect"


# -- redirects ----------------------------------------------------------------------

def test_redirect_loop_is_too_many_redirects(fault_server, fetch):
    got, _ = fetch(fault_server.url("loop/a.jpg"))
    assert (got.status, got.reason, got.http_status) == ("failed", "too_many_redirects", None)
    assert fault_server.hits("loop/a.jpg") == 6  # the request plus 5 redirects followed


@pytest.mark.parametrize("length, max_redirects, ok", [
    (5, 5, True), (6, 5, False), (0, 0, True), (1, 0, False), (2, 3, True)])
def test_redirect_chain_length(fault_server, fetch, length, max_redirects, ok):
    got, _ = fetch(fault_server.url(f"chain/{length}/r.jpg"), max_redirects=max_redirects)
    if ok:
        assert (got.status, got.http_status) == ("ok", 200)
        assert got.data == fault_server.image("r.jpg")
    else:
        assert (got.status, got.reason) == ("failed", "too_many_redirects")
        assert fault_server.hits("chain/0/r.jpg") == 0


# -- opt-out ------------------------------------------------------------------------

OPTOUT_ROUTES = ["robots/noai/a.jpg", "robots/otherbot%3A%20noimageai/a.jpg"]


@pytest.mark.parametrize("route", OPTOUT_ROUTES)
def test_x_robots_tag_optout_is_dropped(fault_server, fetch, route):
    got, _ = fetch(fault_server.url(route))
    assert (got.status, got.reason, got.http_status) == ("dropped", "optout", 200)
    assert got.data == b""


@pytest.mark.parametrize("route", OPTOUT_ROUTES)
def test_optout_ignored_when_not_respected(fault_server, fetch, route):
    got, _ = fetch(fault_server.url(route), respect_optout=False)
    assert (got.status, got.reason) == ("ok", "")
    assert got.data == fault_server.image("a.jpg")


def test_other_robots_directives_are_not_optout(fault_server, fetch):
    got, _ = fetch(fault_server.url("robots/noindex%2C%20nofollow/a.jpg"))
    assert got.status == "ok"


@pytest.mark.parametrize("value, expected", [
    (None, set()),
    ("", set()),
    ("noai", {"noai"}),
    ("NoImageAI", {"noimageai"}),
    ("otherbot: noimageai", {"noimageai"}),
    ("noindex, noai, noimageai", {"noai", "noimageai"}),
    ("googlebot: noindex; noai", {"noai"}),
    ("noindex, nofollow", set()),
    ("noai-please, unavailable_after: 25 Jun 2010 15:00:00 PST", set()),
])
def test_optout_directives(value, expected):
    assert optout_directives(value) == expected


# -- private networks -------------------------------------------------------------------

def test_private_address_is_refused(fault_server, fetch):
    got, _ = fetch(fault_server.url("ok/a.jpg"), allow_private_networks=False)
    assert (got.status, got.reason, got.http_status) == ("failed", "private_address", None)
    assert "127.0.0.1" in got.detail
    assert got.attempts == 1
    assert fault_server.hits("ok/a.jpg") == 0  # refused before a request was sent


def test_private_address_is_refused_for_localhost_name(fault_server, fetch):
    url = fault_server.url("ok/a.jpg").replace("127.0.0.1", "localhost")
    got, _ = fetch(url, allow_private_networks=False)
    assert (got.status, got.reason) == ("failed", "private_address")


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1",
    "fe80::1", "fe80::1%eth0", "::ffff:127.0.0.1", "100.64.0.1", "0.0.0.0", "::",
    "224.0.0.1", "ff02::1", "fc00::1", "255.255.255.255",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "not an address", "",
])
def test_non_public_addresses(address):
    assert is_public_address(address) is False


@pytest.mark.parametrize("address", [
    "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses(address):
    assert is_public_address(address) is True


# -- politeness ---------------------------------------------------------------------

def _fetch_all_at_once(fetcher: Fetcher, urls: list[str]) -> list:
    results, start = [None] * len(urls), threading.Barrier(len(urls))

    def work(i: int) -> None:
        start.wait(timeout=5)
        results[i] = fetcher.get(urls[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return results


def _slow_burst(server, fetch_config, per_host: int) -> list:
    fetcher = Fetcher(fetch_config(per_host=per_host, threads=8, read_timeout=3.0,
                                   total_timeout=10.0))
    urls = [server.url(f"slow/0.5/{i}.jpg") for i in range(8)]
    try:
        return _fetch_all_at_once(fetcher, urls)
    finally:
        fetcher.close()


def test_per_host_limit_caps_requests_in_flight(fault_server, fetch_config):
    started = time.monotonic()
    results = _slow_burst(fault_server, fetch_config, per_host=2)
    assert [r.status for r in results] == ["ok"] * 8
    assert fault_server.max_in_flight == 2
    assert time.monotonic() - started >= 4 * 0.5 - 0.1  # 8 requests, 2 at a time


def test_per_host_limit_above_the_burst_lets_all_run(fault_server, fetch_config):
    # The control: the server does see concurrency when the limit allows it.
    results = _slow_burst(fault_server, fetch_config, per_host=8)
    assert [r.status for r in results] == ["ok"] * 8
    assert fault_server.max_in_flight > 2

"""URL fetching: SSRF guards on every address spelling, redirects, pinning and caps.

The network tests talk only to a loopback http.server in a thread; blocked targets
are loopback spellings too, and the server counts requests so a test can prove that
a blocked hop never reached it.
"""

from __future__ import annotations

import http.server
import ipaddress
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from indexer.errors import BadInputError, LimitExceededError, PermissionDeniedError
from search.service.url_fetch import (
    FetchConfig,
    _PinnedHTTPConnection,
    blocked_reason,
    fetch_url,
    parse_ipv4_literal,
    parse_target,
)

PAYLOAD = bytes(range(256)) * 64  # 16 KiB


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        type(self).hits.append(self.path)
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        if parsed.path == "/ok.jpg":
            self._send(200, PAYLOAD, content_type="text/html")  # type header is not trusted
        elif parsed.path == "/host":
            self._send(200, self.headers.get("Host", "").encode())
        elif parsed.path == "/redirect":
            self.send_response(int(query.get("code", "302")))
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parsed.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parsed.path == "/big":
            self._send(200, b"x" * 300_000)
        elif parsed.path == "/big-unsized":
            self.send_response(200)
            self.end_headers()
            for _ in range(30):
                self.wfile.write(b"y" * 10_000)
        elif parsed.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                try:
                    self.wfile.write(b"z")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)
        else:
            self._send(404, b"not here")

    def _send(self, code: int, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


ALLOW = FetchConfig(allow_hosts=("127.0.0.1",), timeout_s=5.0)


# --- pure checks: no network -------------------------------------------------------------


@pytest.mark.parametrize(
    "host, expected",
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("017700000001", "127.0.0.1"),
        ("169.254.43518", "169.254.169.254"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("10.0.0.1.", "10.0.0.1"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_ipv4_spellings_normalise(host: str, expected: str) -> None:
    assert parse_ipv4_literal(host) == ipaddress.IPv4Address(expected)


@pytest.mark.parametrize("host", ["example.com", "0x7f.example", "a1", "media.cdn-1.net"])
def test_names_are_not_ipv4(host: str) -> None:
    assert parse_ipv4_literal(host) is None


@pytest.mark.parametrize("host", ["0x7g.1", "256.0.0.1", "1.2.3.4.5", "4294967296", "09.0.0.1"])
def test_malformed_numeric_hosts_are_bad_input(host: str) -> None:
    with pytest.raises(BadInputError):
        parse_ipv4_literal(host)


BLOCKED = [
    "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "100.64.0.1", "100.100.100.200", "169.254.169.254", "169.254.1.1", "0.0.0.0", "0.1.2.3",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.0.192", "192.0.2.1",
    "198.18.0.1", "203.0.113.9",
    "::1", "::", "fe80::1", "fec0::1", "fc00::1", "fd00:ec2::254", "ff02::1", "ff0e::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1", "::a9fe:a9fe",
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:a9fe:a9fe::",
    "2001::1", "2001:db8::1", "100::1", "64:ff9b:1::1",
]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8",
                "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_parse_target_normalises_and_keeps_path() -> None:
    t = parse_target("HTTP://0x7f.1:8080/a/b.jpg?x=1#frag")
    assert (t.scheme, t.host, t.port, t.request_target) == ("http", "127.0.0.1", 8080, "/a/b.jpg?x=1")
    assert parse_target("https://[::FFFF:7f00:1]/").host == "::ffff:7f00:1"
    assert parse_target("https://Example.COM./x").host == "example.com"


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/a.jpg", "file:///etc/passwd", "gopher://x/", "http://", "not a url",
     "http://user:pw@example.com/", "http://[fe80::1%25eth0]/", "http://example.com:99999/",
     "http://exa mple.com/", "http://example.com\\@127.0.0.1/", ""],
)
def test_bad_urls_are_bad_input(url: str) -> None:
    with pytest.raises(BadInputError):
        fetch_url(url, FetchConfig(timeout_s=2.0))


@pytest.mark.parametrize(
    "url", ["http://metadata.google.internal/computeMetadata/v1/", "http://metadata/", "http://foo.localhost/",
            "http://instance-data/latest/"],
)
def test_metadata_names_blocked_before_dns(url: str) -> None:
    with pytest.raises(PermissionDeniedError):
        fetch_url(url, FetchConfig(timeout_s=2.0))


def test_config_validates() -> None:
    with pytest.raises(ValueError):
        FetchConfig(max_bytes=0)
    with pytest.raises(ValueError):
        FetchConfig(allow_hosts="127.0.0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FetchConfig(allow_hosts=("0x7g.1",))


# --- loopback server ----------------------------------------------------------------------


SPELLINGS = [
    "http://127.0.0.1:{port}/ok.jpg",
    "http://localhost:{port}/ok.jpg",
    "http://2130706433:{port}/ok.jpg",
    "http://0177.0.0.1:{port}/ok.jpg",
    "http://0x7f.1:{port}/ok.jpg",
    "http://0x7f000001:{port}/ok.jpg",
    "http://127.1:{port}/ok.jpg",
    "http://127.0.0.1.:{port}/ok.jpg",
    "http://0:{port}/ok.jpg",
    "http://[::1]:{port}/ok.jpg",
    "http://[::]:{port}/ok.jpg",
    "http://[::ffff:127.0.0.1]:{port}/ok.jpg",
    "http://[::ffff:7f00:1]:{port}/ok.jpg",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/ok.jpg",
    "http://[::127.0.0.1]:{port}/ok.jpg",
    "http://[64:ff9b::127.0.0.1]:{port}/ok.jpg",
    "http://[2002:7f00:1::]:{port}/ok.jpg",
    "https://127.0.0.1:{port}/ok.jpg",
    "http://\uff11\uff12\uff17.0.0.1:{port}/ok.jpg",  # full-width digits, NFKC-normalised by IDNA
]


@pytest.mark.parametrize("template", SPELLINGS)
def test_loopback_blocked_by_default_in_every_spelling(server: int, template: str) -> None:
    before = len(_Handler.hits)
    with pytest.raises(PermissionDeniedError):
        fetch_url(template.format(port=server), FetchConfig(timeout_s=2.0))
    assert len(_Handler.hits) == before, "a blocked URL must never reach the server"


@pytest.mark.parametrize(
    "template", ["http://127.0.0.1:{port}/ok.jpg", "http://2130706433:{port}/ok.jpg", "http://0x7f.1:{port}/ok.jpg"]
)
def test_allow_listed_loopback_is_reachable(server: int, template: str) -> None:
    assert fetch_url(template.format(port=server), ALLOW) == PAYLOAD


def test_allow_list_by_cidr_and_by_name(server: int) -> None:
    url = f"http://127.0.0.1:{server}/ok.jpg"
    assert fetch_url(url, FetchConfig(allow_hosts=("127.0.0.0/8",))) == PAYLOAD
    assert fetch_url(f"http://localhost:{server}/host", FetchConfig(allow_hosts=("localhost",))) == (
        f"localhost:{server}".encode()
    )
    with pytest.raises(PermissionDeniedError):
        fetch_url(url, FetchConfig(allow_hosts=("10.0.0.0/8", "media.example.com")))


def test_redirect_within_allowed_host_is_followed(server: int) -> None:
    to = urllib.parse.quote(f"http://127.0.0.1:{server}/ok.jpg")
    assert fetch_url(f"http://127.0.0.1:{server}/redirect?to={to}", ALLOW) == PAYLOAD
    rel = urllib.parse.quote("/ok.jpg")
    assert fetch_url(f"http://127.0.0.1:{server}/redirect?code=308&to={rel}", ALLOW) == PAYLOAD


@pytest.mark.parametrize(
    "target",
    ["http://localhost:{port}/ok.jpg", "http://127.0.0.2:{port}/ok.jpg", "http://0x7f.0.0.2:{port}/ok.jpg",
     "http://[::1]:{port}/ok.jpg", "http://[::ffff:127.0.0.3]:{port}/ok.jpg", "http://2130706434:{port}/ok.jpg"],
)
def test_redirect_from_allowed_to_blocked_is_refused(server: int, target: str) -> None:
    to = urllib.parse.quote(target.format(port=server))
    before = len(_Handler.hits)
    with pytest.raises(PermissionDeniedError):
        fetch_url(f"http://127.0.0.1:{server}/redirect?to={to}", ALLOW)
    assert _Handler.hits[before:] == [f"/redirect?to={to}"], "the blocked hop must not be fetched"


def test_redirect_to_other_scheme_is_refused(server: int) -> None:
    to = urllib.parse.quote("file:///etc/passwd")
    with pytest.raises(BadInputError):
        fetch_url(f"http://127.0.0.1:{server}/redirect?to={to}", ALLOW)


def test_redirect_cap(server: int) -> None:
    with pytest.raises(LimitExceededError):
        fetch_url(f"http://127.0.0.1:{server}/loop", ALLOW)
    to = urllib.parse.quote("/ok.jpg")
    no_redirects = FetchConfig(allow_hosts=("127.0.0.1",), max_redirects=0)
    with pytest.raises(LimitExceededError):
        fetch_url(f"http://127.0.0.1:{server}/redirect?to={to}", no_redirects)


def test_byte_cap_with_and_without_content_length(server: int) -> None:
    small = FetchConfig(allow_hosts=("127.0.0.1",), max_bytes=100_000)
    with pytest.raises(LimitExceededError):
        fetch_url(f"http://127.0.0.1:{server}/big", small)
    with pytest.raises(LimitExceededError):
        fetch_url(f"http://127.0.0.1:{server}/big-unsized", small)
    assert len(fetch_url(f"http://127.0.0.1:{server}/big-unsized", ALLOW)) == 300_000


def test_total_time_cap(server: int) -> None:
    # The server drips one byte per 50 ms for 5 s; a 0.5 s budget must end it.
    with pytest.raises(LimitExceededError):
        fetch_url(f"http://127.0.0.1:{server}/slow", FetchConfig(allow_hosts=("127.0.0.1",), timeout_s=0.5))


def test_http_error_status_is_bad_input(server: int) -> None:
    with pytest.raises(BadInputError, match="404"):
        fetch_url(f"http://127.0.0.1:{server}/missing", ALLOW)


def test_connection_is_pinned_to_checked_address(server: int) -> None:
    # The name does not resolve anywhere; the request still reaches the pinned IP and
    # carries the name as Host, so no second DNS lookup happens after the check.
    conn = _PinnedHTTPConnection("pinned.invalid", server, ipaddress.ip_address("127.0.0.1"), 5.0)
    try:
        conn.request("GET", "/host")
        assert conn.getresponse().read() == f"pinned.invalid:{server}".encode()
    finally:
        conn.close()

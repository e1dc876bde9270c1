"""Fetch media from http(s) URLs without becoming a server-side request forgery proxy.

Every hop (the first URL and each redirect) goes through the same steps:

1. parse the URL; only ``http`` and ``https``, no credentials, no zone ids;
2. normalise the host: IDNA, then any IPv4 spelling that a resolver would accept
   (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``) becomes a dotted quad;
3. resolve it once, and refuse the hop if *any* resolved address is loopback,
   private, link-local, unique-local, multicast, unspecified, reserved,
   documentation or a cloud-metadata address -- looking inside IPv4-mapped,
   IPv4-compatible, 6to4 and NAT64 IPv6 forms for the IPv4 they carry;
4. connect to the address that was checked (no second DNS lookup, so DNS
   rebinding cannot swap it), sending the original name as Host header and TLS
   SNI, and verifying the certificate against that name.

An operator allow-list (``FetchConfig.allow_hosts``) opens specific host names,
addresses or CIDR networks. Bytes, redirects and total time are capped. The
content type is never taken from the URL or the response headers: callers sniff
the returned bytes.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
import urllib.parse

from indexer.errors import BadInputError, LimitExceededError, PermissionDeniedError
from search.service.address_policy import (BLOCKED_NAMES, BLOCKED_SUFFIXES, IPAddress, same_ip, blocked_reason,
                                           parse_ipv4_literal)

LOG = logging.getLogger(__name__)

_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True)
class FetchConfig:
    """Caps and the operator allow-list for URL fetches.

    ``allow_hosts`` entries are host names (matched exactly, case-insensitive), IP
    addresses or CIDR networks (matched against the host literal and the resolved
    address). They open otherwise blocked addresses; use them for internal media servers.
    """

    max_bytes: int = 64 * 1024 * 1024
    max_redirects: int = 3
    timeout_s: float = 20.0
    allow_hosts: tuple[str, ...] = ()
    user_agent: str = "nearmatch-fetch/1"

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError(f"expected max_bytes > 0, got {self.max_bytes}")
        if self.max_redirects < 0:
            raise ValueError(f"expected max_redirects >= 0, got {self.max_redirects}")
        if self.timeout_s <= 0:
            raise ValueError(f"expected timeout_s > 0, got {self.timeout_s}")
        if isinstance(self.allow_hosts, str):
            raise ValueError("expected allow_hosts to be a tuple of hosts, got a string")
        for entry in self.allow_hosts:
            _parse_allow_entry(entry)  # raises on a malformed entry


@dataclasses.dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # normalised: lower-case ASCII name, dotted quad, or bare IPv6 text
    port: int
    request_target: str  # path + query sent on the request line
    literal: IPAddress | None  # set when the host is an address in any spelling


def _parse_allow_entry(entry: str) -> tuple[str, object]:
    text = entry.strip().lower().rstrip(".")
    if not text:
        raise ValueError("expected a host, address or network in allow_hosts, got ''")
    if "/" in text:
        return "net", ipaddress.ip_network(text, strict=False)
    try:
        return "ip", ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    try:
        v4 = parse_ipv4_literal(text)
    except BadInputError as exc:
        raise ValueError(str(exc)) from exc
    return ("ip", v4) if v4 is not None else ("name", text)


def _allowed(config: FetchConfig, host: str, ip: IPAddress | None) -> bool:
    for entry in config.allow_hosts:
        kind, value = _parse_allow_entry(entry)
        if kind == "name" and value == host:
            return True
        if ip is not None and kind == "ip" and same_ip(value, ip):  # type: ignore[arg-type]
            return True
        if ip is not None and kind == "net" and ip.version == value.version and ip in value:  # type: ignore[attr-defined,operator]
            return True
    return False


def parse_target(url: str) -> _Target:
    """Split and normalise a URL; BadInputError when it is not a plain http(s) URL."""
    if not isinstance(url, str) or not url:
        raise BadInputError(f"expected an http(s) URL, got {url!r}")
    if any(ord(c) < 0x21 or c == "\\" for c in url):
        raise BadInputError(f"expected a URL without spaces, control characters or backslashes, got {url!r}")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadInputError(f"expected a valid URL, got {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BadInputError(f"expected an http or https URL, got scheme {scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise BadInputError("expected a URL without user:password@, got credentials in the URL")
    raw_host = parts.hostname
    if not raw_host:
        raise BadInputError(f"expected a host in the URL, got {url!r}")
    if "%" in raw_host:
        raise BadInputError(f"expected a host without an IPv6 zone id, got {raw_host!r}")
    literal: IPAddress | None
    if parts.netloc.rsplit("@", 1)[-1].startswith("["):
        try:
            literal = ipaddress.IPv6Address(raw_host)
        except ValueError as exc:
            raise BadInputError(f"expected an IPv6 address in brackets, got {raw_host!r}") from exc
        host = str(literal)
    else:
        try:
            host = raw_host.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise BadInputError(f"expected a valid host name, got {raw_host!r}") from exc
        literal = parse_ipv4_literal(host)
        host = str(literal) if literal is not None else host.rstrip(".")
    default_port = 443 if scheme == "https" else 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return _Target(scheme, host, port or default_port, target, literal)


def resolve_checked(target: _Target, config: FetchConfig) -> list[IPAddress]:
    """Resolve ``target.host`` once and check every address; returns the addresses to connect to."""
    allowed_name = _allowed(config, target.host, None)
    if target.literal is None and not allowed_name:
        if target.host in BLOCKED_NAMES or target.host.endswith(BLOCKED_SUFFIXES):
            raise PermissionDeniedError(f"expected a public host, got blocked name {target.host!r}")
    if target.literal is not None:
        addresses: list[IPAddress] = [target.literal]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise BadInputError(f"expected a resolvable host, got {target.host!r}: {exc}") from exc
        addresses = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if ip not in addresses:
                addresses.append(ip)
    if not addresses:
        raise BadInputError(f"expected a resolvable host, got no address for {target.host!r}")
    for ip in addresses:
        if allowed_name or _allowed(config, target.host, ip):
            continue
        reason = blocked_reason(ip)
        if reason is not None:
            raise PermissionDeniedError(
                f"expected a public address, got {reason} for host {target.host!r} ({ip}); "
                "an operator can allow it with --allow-url-host"
            )
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP connection that dials a pre-checked address and sends the name as Host."""

    def __init__(self, host: str, port: int, ip: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._pinned_ip = str(ip)

    def connect(self) -> None:
        self.sock = socket.create_connection((self._pinned_ip, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS connection to a pre-checked address; SNI and certificate check use the name."""

    def __init__(self, host: str, port: int, ip: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._pinned_ip = str(ip)

    def connect(self) -> None:
        sock = socket.create_connection((self._pinned_ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _remaining(deadline: float, url: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise LimitExceededError(f"expected the fetch of {url!r} to finish in time, got a timeout")
    return left


def fetch_url(url: str, config: FetchConfig = FetchConfig()) -> bytes:
    """Download ``url`` with SSRF guards and caps; returns the body bytes.

    Raises PermissionDeniedError for a blocked address or name, LimitExceededError
    past ``max_bytes``, ``max_redirects`` or ``timeout_s``, and BadInputError for a
    malformed URL, an unresolvable host, a connection failure or an HTTP error status.
    """
    deadline = time.monotonic() + config.timeout_s
    current = url
    for hop in range(config.max_redirects + 1):
        target = parse_target(current)
        addresses = resolve_checked(target, config)
        status, location, body = _fetch_once(target, addresses, config, deadline, current)
        if status in _REDIRECT_CODES:
            if not location:
                raise BadInputError(f"expected a Location header on HTTP {status} from {current!r}")
            nxt = urllib.parse.urljoin(current, location)
            LOG.debug("redirect %d: %s -> %s", hop + 1, current, nxt)
            current = nxt
            continue
        if not 200 <= status < 300:
            raise BadInputError(f"expected HTTP 200 from {current!r}, got {status}")
        return body
    raise LimitExceededError(f"expected at most {config.max_redirects} redirects, got more for {url!r}")


def _fetch_once(
    target: _Target, addresses: list[IPAddress], config: FetchConfig, deadline: float, url: str
) -> tuple[int, str | None, bytes]:
    conn_cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    last_error: Exception | None = None
    for ip in addresses:
        conn = conn_cls(target.host, target.port, ip, _remaining(deadline, url))
        watchdog: threading.Timer | None = None
        try:
            conn.connect()
            # A per-recv timeout does not bound the total time (a server can drip one
            # byte per timeout); the watchdog shuts the socket down at the deadline.
            watchdog = threading.Timer(_remaining(deadline, url), _shutdown, args=(conn.sock,))
            watchdog.daemon = True
            watchdog.start()
            conn.putrequest("GET", target.request_target, skip_accept_encoding=True)
            conn.putheader("Accept-Encoding", "identity")  # no decompression bombs
            conn.putheader("User-Agent", config.user_agent)
            conn.putheader("Connection", "close")
            conn.endheaders()
            resp = conn.getresponse()
            if resp.status in _REDIRECT_CODES:
                return resp.status, resp.getheader("Location"), b""
            if not 200 <= resp.status < 300:
                return resp.status, None, b""
            return resp.status, None, _read_capped(resp, config, deadline, url)
        except (OSError, http.client.HTTPException) as exc:
            if isinstance(exc, (socket.timeout, TimeoutError)) or time.monotonic() >= deadline:
                raise LimitExceededError(
                    f"expected the fetch of {url!r} to finish within {config.timeout_s} s, got a timeout"
                ) from exc
            last_error = exc
            LOG.debug("fetch of %s via %s failed: %s", url, ip, exc)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            conn.close()
    raise BadInputError(f"expected to download {url!r}, got {type(last_error).__name__}: {last_error}")


def _shutdown(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _read_capped(
    resp: http.client.HTTPResponse, config: FetchConfig, deadline: float, url: str
) -> bytes:
    declared = resp.getheader("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > config.max_bytes:
        raise LimitExceededError(
            f"expected at most {config.max_bytes} bytes from {url!r}, got Content-Length {int(declared)}"
        )
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = resp.read1(_CHUNK_BYTES)
        if not chunk:
            break
        total += len(chunk)
        if total > config.max_bytes:
            raise LimitExceededError(f"expected at most {config.max_bytes} bytes from {url!r}, got more")
        chunks.append(chunk)
    _remaining(deadline, url)  # a body cut short by the watchdog is a timeout, not a success
    return b"".join(chunks)

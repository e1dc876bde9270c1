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
from typing import Union

from indexer.errors import BadInputError, LimitExceededError, PermissionDeniedError

LOG = logging.getLogger(__name__)

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024

# Host names that reach cloud instance metadata or the machine itself whatever DNS says.
_BLOCKED_NAMES = frozenset(
    {"localhost", "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
     "instance-data.ec2.internal", "metadata.azure.com"}
)
_BLOCKED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")

# IANA special-purpose IPv4 ranges (RFC 6890 and successors) that are never a public server.
_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network", includes the unspecified address
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT; also 100.100.100.200 (Alibaba metadata)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local; 169.254.169.254 is the AWS/GCP/Azure metadata service
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments; 192.0.0.192 is Oracle Cloud metadata
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes the broadcast address
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "2001::/23",  # IETF protocol assignments, includes Teredo 2001::/32
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


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


def parse_ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """Read ``host`` as an IPv4 address in any inet_aton spelling, or None if it is a name.

    Accepts 1 to 4 dot-separated parts, each decimal, octal (leading 0) or hex
    (0x), with the last part filling the remaining bytes: ``2130706433``,
    ``0177.0.0.1``, ``0x7f.1`` and ``127.1`` are all 127.0.0.1. Following the
    WHATWG URL rule, a host whose last label looks numeric must parse, else
    BadInputError (so ``0x7g.1`` is not handed to a resolver).
    """
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts = parts[:-1]  # one trailing dot is allowed
    if not _looks_numeric(parts[-1]):
        return None
    if len(parts) > 4:
        raise BadInputError(f"expected an IPv4 address of at most 4 parts, got {host!r}")
    values = []
    for part in parts:
        value = _parse_ipv4_part(part)
        if value is None:
            raise BadInputError(f"expected an IPv4 address, got {host!r}")
        values.append(value)
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        raise BadInputError(f"expected an IPv4 address with parts in range, got {host!r}")
    number = last
    for i, v in enumerate(head):
        number += v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def _looks_numeric(label: str) -> bool:
    if label.isdigit():
        return True
    return label[:2] in ("0x", "0X") and all(c in "0123456789abcdefABCDEF" for c in label[2:])


def _parse_ipv4_part(part: str) -> int | None:
    if not part:
        return None
    try:
        if part[:2] in ("0x", "0X"):
            return int(part[2:], 16) if part[2:] else 0
        if len(part) > 1 and part[0] == "0":
            return int(part[1:], 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched from (a short phrase), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = blocked_reason(embedded)
            return f"{inner} (carried in IPv6 {ip})" if inner else None
        if ip not in _GLOBAL_UNICAST_V6:
            return _v6_kind(ip)
        if ip.sixtofour is not None:
            inner = blocked_reason(ip.sixtofour)
            return f"{inner} (carried in 6to4 {ip})" if inner else None
        for net in _BLOCKED_V6:
            if ip in net:
                return f"a special-purpose IPv6 address ({net})"
        return None
    for net in _BLOCKED_V4:
        if ip in net:
            return f"{_v4_kind(ip)} ({net})"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_loopback or ip.is_link_local:
        return "a non-public IPv4 address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _v4_kind(ip: ipaddress.IPv4Address) -> str:
    if ip.is_loopback:
        return "a loopback address"
    if str(ip) in ("169.254.169.254", "100.100.100.200", "192.0.0.192"):
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if int(ip) >> 24 == 0:
        return "an unspecified address"
    if ip.is_private:
        return "a private address"
    return "a reserved address"


def _v6_kind(ip: ipaddress.IPv6Address) -> str:
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_unspecified:
        return "an unspecified address"
    if str(ip) == "fd00:ec2::254":
        return "a cloud metadata address"
    if ip.is_link_local or ip.is_site_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip in ipaddress.IPv6Network("fc00::/7"):
        return "a unique-local address"
    return "a reserved address (outside 2000::/3)"


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
        if ip is not None and kind == "ip" and _same_ip(value, ip):  # type: ignore[arg-type]
            return True
        if ip is not None and kind == "net" and ip.version == value.version and ip in value:  # type: ignore[attr-defined,operator]
            return True
    return False


def _same_ip(a: IPAddress, b: IPAddress) -> bool:
    def unmap(x: IPAddress) -> IPAddress:
        if isinstance(x, ipaddress.IPv6Address) and x.ipv4_mapped is not None:
            return x.ipv4_mapped
        return x

    return unmap(a) == unmap(b)


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
        if target.host in _BLOCKED_NAMES or target.host.endswith(_BLOCKED_SUFFIXES):
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

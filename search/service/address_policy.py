"""Which addresses a URL fetch may reach: every IPv4 spelling, special-purpose ranges, embedded IPv4 in IPv6.

``blocked_reason(ip)`` names why an address is refused (loopback, private,
link-local, metadata, ...) or returns None for a public unicast address.
"""

from __future__ import annotations

import ipaddress
from typing import Union

from indexer.errors import BadInputError

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


# Host names that reach cloud instance metadata or the machine itself whatever DNS says.
BLOCKED_NAMES = frozenset(
    {"localhost", "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
     "instance-data.ec2.internal", "metadata.azure.com"}
)
BLOCKED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")

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


def same_ip(a: IPAddress, b: IPAddress) -> bool:
    def unmap(x: IPAddress) -> IPAddress:
        if isinstance(x, ipaddress.IPv6Address) and x.ipv4_mapped is not None:
            return x.ipv4_mapped
        return x

    return unmap(a) == unmap(b)

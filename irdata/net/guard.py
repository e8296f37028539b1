"""Refuse connections to private, loopback and link-local addresses. Each new connection
(first request and every redirect) is checked twice: its host's addresses before any
packet is sent, and the socket's actual peer, which catches DNS rebinding."""

from __future__ import annotations

import ipaddress
import socket

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class BlockedAddress(Exception):
    """A disallowed address; not an OSError, so urllib3 neither wraps nor retries it."""


# IPv6 ranges that carry an IPv4 address in their low 32 bits: a socket that
# reaches one of them may end up at that IPv4 address (NAT64, IPv4-compatible).
_EMBEDS_IPV4 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address behind a NAT64, IPv4-compatible or 6to4 address."""
    if ip.sixtofour:
        return ip.sixtofour
    if any(ip in net for net in _EMBEDS_IPV4):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _routable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses. An IPv6 address that
    embeds an IPv4 one (mapped, NAT64, 6to4) must have a public IPv4 inside."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return _routable(ip) and (inner is None or _routable(inner))


def _resolved(host: str, port: int) -> list[str]:
    """Addresses `host` resolves to ([]: the connection then fails with urllib3's error)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [info[4][0] for info in infos]


class _PeerCheck:
    def _new_conn(self):
        for address in _resolved(self._dns_host, self.port):
            if not is_public_address(address):
                raise BlockedAddress(f"{self.host} resolves to non-public address {address}")
        sock = super()._new_conn()
        peer = sock.getpeername()[0]
        if not is_public_address(peer):
            sock.close()
            raise BlockedAddress(f"{self.host} resolved to non-public address {peer}")
        return sock


class GuardedHTTPConnection(_PeerCheck, HTTPConnection):
    pass


class GuardedHTTPSConnection(_PeerCheck, HTTPSConnection):
    pass


class GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


GUARDED_POOLS = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}

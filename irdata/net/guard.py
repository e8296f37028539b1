"""Refuse connections to private, loopback and link-local addresses.

The check runs on the address a socket actually connected to (after DNS, after
every redirect), so DNS rebinding and redirects to 127.0.0.1 or
169.254.169.254 are caught, not just the host names in URLs.
"""

from __future__ import annotations

import ipaddress

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class BlockedAddress(Exception):
    """A connection reached an address that the fetch settings do not allow.

    Deliberately not an OSError, so urllib3 neither wraps nor retries it."""


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _PeerCheck:
    def _new_conn(self):
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

"""The rate limit the public pages use: what they need of it, not how it is kept.

Downloads and lookups count against a sliding window per client address and
per organisationsnummer. The counts must be shared by every process that
serves the pages (several workers, several machines), so they live in the
database: the app assembly injects `workqueue.DatabaseLimiter`, which
satisfies `RateLimiter` (this layer may not import the work queue).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from typing import Protocol

# An IPv6 client usually has a whole /64 to choose addresses from.
IPV6_CLIENT_PREFIX = 64


class RateLimiter(Protocol):
    def hit(self, keys: Sequence[str]) -> float:
        """Count one request against every key; 0.0 if allowed, else seconds to wait."""
        ...


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


def address_key(address: str) -> str:
    """The limit key of a client address: itself, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"addr:{ip.ipv4_mapped}"
        return f"addr:{ipaddress.ip_network(f'{ip}/{IPV6_CLIENT_PREFIX}', strict=False)}"
    return f"addr:{ip}"

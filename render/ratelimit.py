"""A per-client sliding-window limit for the public download pages.

Kept in process memory: the public pages run as one process behind a proxy,
and a restart forgetting the counters only ever lets a client through. The
window is exact (timestamps, not buckets), so a client that keeps to the limit
is never refused, and memory stays bounded by pruning idle clients.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(
        self, limit: int, window_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit and window must be positive")
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_prune = clock()

    def hit(self, key: str) -> float:
        """Count one request for `key`; 0.0 if allowed, else seconds until it would be."""
        now = self._clock()
        with self._lock:
            if now - self._last_prune > self.window:
                self._prune(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.001, hits[0] + self.window - now)
            hits.append(now)
            return 0.0

    def retry_after_header(self, wait: float) -> str:
        return str(max(1, math.ceil(wait)))

    def _prune(self, now: float) -> None:
        stale = [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]
        for k in stale:
            del self._hits[k]
        self._last_prune = now

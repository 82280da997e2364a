"""A client-side rate limiter for APIs whose limits must never be crossed.

Sage Accounting South Africa allows 100 requests a minute and 5,000 a day per company, and answers the
101st request in a minute by blocking the caller's IP for an hour. So the client waits for room in a sliding
one-minute window before every request, and refuses outright (with a clear error) a request that would pass
the daily cap, instead of letting the API block it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class DailyLimitReached(Exception):
    """The daily request budget is spent; carrying on would get the caller blocked."""


class RateLimiter:
    """Sliding-window limiter: at most ``per_minute`` requests in any 60 s, at most ``per_day`` in total.

    :param per_minute: requests allowed in any sliding 60-second window (None: no minute limit).
    :param per_day: requests this limiter may make in all (None: no daily cap). Counted per limiter, i.e. per
        task; the README says how to keep several tasks of one company inside the cap.
    :param window: the window in seconds (60; tests use less).
    """

    def __init__(
        self,
        per_minute: int | None,
        per_day: int | None = None,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self.per_day = per_day
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.sent: deque[float] = deque()
        self.total = 0
        self.waited = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait until one more request fits, then count it."""
        with self._lock:
            if self.per_day is not None and self.total >= self.per_day:
                raise DailyLimitReached(
                    f"{self.total} requests made, the daily limit of {self.per_day} is reached; stopping before the "
                    "API blocks this client"
                )
            if self.per_minute is not None:
                while True:
                    now = self.clock()
                    while self.sent and now - self.sent[0] >= self.window:
                        self.sent.popleft()
                    if len(self.sent) < self.per_minute:
                        break
                    pause = self.window - (now - self.sent[0]) + 0.01
                    self.waited += pause
                    self.sleep(pause)
            self.sent.append(self.clock())
            self.total += 1

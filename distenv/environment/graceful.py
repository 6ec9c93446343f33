"""``graceful_exit=True``: CTRL+C stops new runs and lets the active ones finish.

The first SIGINT calls the loop's ``stop`` (an executor stops handing out tasks; the serial
loop starts no further run), the second raises :class:`KeyboardInterrupt` at once. Only the
main thread can install the handler; elsewhere the option does nothing.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


class GracefulExit:
    """``graceful_exit=True``: the first SIGINT stops new runs, the second raises at once."""

    def __init__(self, enabled: bool, stop: Any):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.stop = stop
        self.interrupted = False
        self._previous: Any = None

    def __enter__(self) -> "GracefulExit":
        if self.enabled:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            raise KeyboardInterrupt
        self.interrupted = True
        self.stop()

    def __exit__(self, *exc_info: Any) -> None:
        if self.enabled:
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)

    def raise_if_interrupted(self) -> None:
        if self.interrupted:
            raise KeyboardInterrupt("graceful exit: the runs that were active finished and are "
                                    "stored; the others are pending (resume or run again)")

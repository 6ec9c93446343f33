"""``report_progress``: a tqdm bar on a terminal, log records or printed lines otherwise.

Progress counts finished runs. With a logger (``report_progress=True`` or a triple) a record is
logged every ``percent_step`` percent, at the triple's level; when stderr is an interactive
terminal a live tqdm bar (rate, elapsed time, ETA) is shown on it as well, and log handlers
that print to the terminal write around the bar while it is shown. With ``'print'``
the bar goes to stdout on a terminal, and plain lines are printed otherwise (pipes, files, CI
logs), so captured output never fills with carriage returns.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, TextIO

from tqdm import tqdm

from distenv.environment.specs import ProgressSpec


def _columns(stream: Any) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _AroundTheBar:
    """A stream for console log handlers that clears the bar, writes, and redraws it."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> None:
        tqdm.write(text[:-1] if text.endswith("\n") else text, file=self.stream)

    def flush(self) -> None:
        self.stream.flush()


def _console_handlers() -> list[logging.StreamHandler]:
    """Handlers of existing loggers that write to an interactive terminal."""
    loggers = [logging.root] + [logger for logger in logging.Logger.manager.loggerDict.values()
                                if isinstance(logger, logging.Logger)]
    return [handler for logger in loggers for handler in logger.handlers
            if type(handler) is logging.StreamHandler and _is_terminal(handler.stream)]


class ProgressReporter:
    """Reports finished runs of one batch.

    Parameters
    ----------
    spec:
        ``None`` reports nothing.
    total:
        Runs in this batch.
    description:
        Shown before the bar and in every line (the trajectory name).

    Example
    -------
    >>> with ProgressReporter(ProgressSpec(25, 'print', 20), 4, 'sweep') as progress:
    ...     for _ in range(4):
    ...         progress.advance()
    """

    def __init__(self, spec: ProgressSpec | None, total: int, description: str):
        self.spec = spec
        self.total = total
        self.description = description
        self.done = 0
        self.started = time.monotonic()
        self._next_percent = 0.0
        self._bar: tqdm | None = None
        self._logger: logging.Logger | None = None
        self._print_to: TextIO | None = None
        self._redirected: list[tuple[logging.StreamHandler, TextIO]] = []
        if spec is None or total <= 0:
            return
        if spec.prints:
            if _is_terminal(sys.stdout):
                self._bar = self._make_bar(sys.stdout)
            else:
                self._print_to = sys.stdout
        else:
            self._logger = logging.getLogger(spec.logger_name)
            if _is_terminal(sys.stderr):
                self._bar = self._make_bar(sys.stderr)
        self._next_percent = float(spec.percent_step)

    def _make_bar(self, stream: TextIO) -> tqdm:
        # Console log records are written around the bar instead of through it.
        for handler in _console_handlers():
            self._redirected.append((handler, handler.setStream(_AroundTheBar(handler.stream))))
        # A terminal that reports no size (a fresh pty, some CI consoles) gets 100 columns and
        # enough rows; tqdm would otherwise hide the bar as "below the screen".
        sized = _columns(stream) > 0
        return tqdm(total=self.total, desc=self.description, unit="run", file=stream,
                    dynamic_ncols=sized, ncols=None if sized else 100,
                    nrows=None if sized else 50, leave=True, smoothing=0.1)

    def __enter__(self) -> "ProgressReporter":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def line(self) -> str:
        """The text form: ``'PROGRESS: sweep  50%|#####     | 2/4 [00:01<00:01, 1.9run/s]'``."""
        meter = tqdm.format_meter(self.done, self.total, time.monotonic() - self.started,
                                  ncols=90, prefix=self.description, ascii=True, unit="run")
        return "PROGRESS: " + meter

    def advance(self, runs: int = 1) -> None:
        """Count ``runs`` more finished runs."""
        if self.spec is None or self.total <= 0:
            return
        self.done = min(self.total, self.done + runs)
        if self._bar is not None:
            self._bar.update(runs)
        percent = 100.0 * self.done / self.total
        if percent + 1e-9 < self._next_percent and self.done < self.total:
            return
        step = float(self.spec.percent_step)
        self._next_percent = (int(percent / step + 1e-9) + 1) * step
        if self._logger is not None:
            self._logger.log(self.spec.level, self.line())
        elif self._print_to is not None:
            print(self.line(), file=self._print_to, flush=True)

    def extend(self, runs: int) -> None:
        """The batch grew by ``runs`` (post-processing added runs while others still ran)."""
        self.total += runs
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def close(self) -> None:
        """Finish the bar and give console log handlers their streams back."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        for handler, stream in self._redirected:
            handler.setStream(stream)
        self._redirected = []

"""``log_stdout``: print output and stderr recorded in the logs, still shown on the console.

:class:`StreamToLogger` replaces ``sys.stdout`` (and another one ``sys.stderr``). Each complete
line written to it becomes a log record of its logger; the text also goes unchanged to the
stream it replaced, so the console shows the output as before. The records carry the attribute
``distenv_stream`` and :class:`NotFromStreams` keeps them off console handlers, so a line is
never shown twice. A carriage return starts the line anew: a line rewritten that way is
logged in its final state from stdout and not at all from stderr (where it is a progress bar
such as tqdm's, which distenv reports through its own logger). Writes made while a record is being handled
(a handler or ``logging`` itself printing to the stream) are only passed through, so nothing
loops.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

#: Attribute set on records that come from a replaced stream.
STREAM_RECORD = "distenv_stream"


class NotFromStreams(logging.Filter):
    """Drops records made from print output (they are on the console already)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, STREAM_RECORD, False)


class StreamToLogger:
    """A text stream that logs each line and passes the text on to ``original``.

    Parameters
    ----------
    name:
        ``'stdout'`` or ``'stderr'``: the stream it replaces.
    logger_name, level:
        Where the lines go, and at which level they are logged (a level of the records, not a
        filter).
    original:
        The stream replaced; attributes this class lacks (``fileno``, ``isatty``,
        ``encoding``, ...) are those of ``original``.
    """

    def __init__(self, name: str, logger_name: str, level: int, original: Any):
        self.name = name
        self.logger = logging.getLogger(logger_name)
        self.level = level
        self.original = original
        self._local = threading.local()

    # -- the stream interface ------------------------------------------------------------------
    def write(self, text: str) -> int:
        try:
            self.original.write(text)
        except (ValueError, OSError):  # a closed console must not stop the program
            pass
        local = self._local
        if getattr(local, "inside", False) or not text:
            return len(text)
        buffer = getattr(local, "buffer", "") + text
        rewritten = getattr(local, "rewritten", False)
        *lines, rest = buffer.split("\n")
        for line in lines:
            line, again = _last_state(line)
            if not ((rewritten or again) and self.name == "stderr"):
                self._log(line.rstrip("\r"))
            rewritten = False
        local.buffer, again = _last_state(rest)
        local.rewritten = rewritten or again
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self.original.flush()
        except (ValueError, OSError, AttributeError):
            pass

    def finish(self) -> None:
        """Log what is left of an unfinished line (of this thread)."""
        rest = getattr(self._local, "buffer", "")
        rewritten = getattr(self._local, "rewritten", False)
        self._local.buffer, self._local.rewritten = "", False
        if rest and not (rewritten and self.name == "stderr"):
            self._log(rest.rstrip("\r"))

    def __getattr__(self, name: str) -> Any:
        if name in ("original", "_local"):
            raise AttributeError(name)
        return getattr(self.original, name)

    def _log(self, line: str) -> None:
        if not line.strip():
            return
        local = self._local
        local.inside = True
        try:
            self.logger.log(self.level, line.rstrip(), extra={STREAM_RECORD: True})
        finally:
            local.inside = False


class ConsoleStream:
    """``sys.stdout``/``sys.stderr`` as they are when written to, without a
    :class:`StreamToLogger` in front.

    Console handlers of distenv's configurations write here, so they follow a stream that is
    replaced later (a test's captured output, an executor's fresh stream in a forked worker)
    and never feed print output back into the logs.
    """

    def __init__(self, name: str):
        self.name = name

    def write(self, text: str) -> Any:
        return original_stream(self.name).write(text)

    def flush(self) -> None:
        stream = original_stream(self.name)
        if hasattr(stream, "flush"):
            stream.flush()

    def __getattr__(self, name: str) -> Any:
        if name == "name":
            raise AttributeError(name)
        return getattr(original_stream(self.name), name)

    def __repr__(self) -> str:
        return "<ConsoleStream sys.%s>" % self.name


#: The console stream (stderr) of default configurations (``ext://`` reachable).
CONSOLE = ConsoleStream("stderr")


def _last_state(segment: str) -> tuple[str, bool]:
    """What a terminal shows of ``segment`` (text after the last carriage return; a final one is
    kept, it may start a Windows line end) and whether it was rewritten."""
    body = segment[:-1] if segment.endswith("\r") else segment
    if "\r" not in body:
        return segment, False
    return body.rsplit("\r", 1)[-1] + segment[len(body):], True


def original_stream(name: str) -> Any:
    """``sys.stdout``/``sys.stderr`` without any :class:`StreamToLogger` in front."""
    stream = getattr(sys, name)
    while isinstance(stream, StreamToLogger):
        stream = stream.original
    return stream


class Redirection:
    """The replaced ``sys.stdout``/``sys.stderr`` of one logging set-up, and their undoing."""

    def __init__(self, stdout: tuple[str, int] | None, stderr: tuple[str, int] | None):
        self.installed: list[StreamToLogger] = []
        for name, target in (("stdout", stdout), ("stderr", stderr)):
            if target is None:
                continue
            stream = StreamToLogger(name, target[0], target[1], getattr(sys, name))
            setattr(sys, name, stream)
            self.installed.append(stream)

    def undo(self) -> None:
        """Put the replaced streams back (if nobody replaced ours in the meantime)."""
        for stream in reversed(self.installed):
            stream.finish()
            if getattr(sys, stream.name) is stream:
                setattr(sys, stream.name, stream.original)
        self.installed = []

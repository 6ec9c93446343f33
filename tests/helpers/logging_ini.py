"""The logging sections of pypet's default ``.ini`` files, for the tests that pass them as
``log_config`` or inside a ``config=`` file."""

from __future__ import annotations

_PYPET_LOGGING = """\
[loggers]
keys=root

[logger_root]
handlers=file_main,file_error,stream
level=INFO

[formatters]
keys=file,stream

[formatter_file]
format=%(asctime)s %(name)s %(levelname)-8s %(message)s

[formatter_stream]
format=%(processName)-10s %(name)s %(levelname)-8s %(message)s

[handlers]
keys=file_main, file_error, stream

[handler_file_error]
class=FileHandler
level=ERROR
args=('{folder}/$traj/$env/ERROR.txt',)
formatter=file

[handler_file_main]
class=FileHandler
args=('{folder}/$traj/$env/LOG.txt',)
formatter=file

[handler_stream]
class=StreamHandler
level={stream_level}
args={stream_args}
formatter=stream

[multiproc_loggers]
keys=root

[multiproc_logger_root]
handlers=file_main,file_error
level=INFO

[multiproc_formatters]
keys=file

[multiproc_formatter_file]
format=%(asctime)s %(name)s %(levelname)-8s %(message)s

[multiproc_handlers]
keys=file_main{separator}file_error

[multiproc_handler_file_error]
class=FileHandler
level=ERROR
args=('{folder}/$traj/$env/$run_$proc_ERROR.txt',)
formatter=file

[multiproc_handler_file_main]
class=FileHandler
args=('{folder}/$traj/$env/$run_$proc_LOG.txt',)
formatter=file
"""


def pypet_logging_sections(folder: str, stream_level: str, stream_args: str,
                           separator: str = ", ") -> str:
    """The logging sections (main process and ``multiproc_`` ones) with log files under
    ``folder/$traj/$env/``, a stream handler at ``stream_level`` built with ``stream_args``
    (an ini tuple such as ``()`` or ``(sys.stderr,)``), and ``separator`` between the keys of
    ``[multiproc_handlers]`` (pypet's files spell it both ways)."""
    return _PYPET_LOGGING.format(folder=folder, stream_level=stream_level,
                                 stream_args=stream_args, separator=separator)

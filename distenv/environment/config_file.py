"""``Environment(config='file.ini')``: keywords, parameters, config items and logging from a file.

Sections (seed "Using a Config File"):

* ``[trajectory]``, ``[environment]``, ``[storage_service]``: keywords of ``Environment(...)``
  (``ncores=2``, ``filename='out.hdf5'``, ``auto_load=True``, ...). Keywords passed to the
  constructor directly win over the file, also when spelled differently (``continuable`` in
  the file, ``resumable`` in the call).
* ``[config]`` and ``[parameters]``: items added to the new trajectory, ``name=value`` or
  ``name=value, 'comment'`` (a tuple value needs parentheses: ``shape=(3, 4)``).
* logging sections (``[loggers]``, ``[handlers]``, ..., ``[multiproc_loggers]``, ...): the
  file also serves as ``log_config`` unless ``log_config`` is passed directly.

Values are Python literals read with :func:`ast.literal_eval` -- strings need quotes, nothing is
executed. A value that is not a literal raises :class:`~distenv.errors.ConfigurationError`
naming the file, section, key and line.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from typing import Any, Mapping

from distenv.environment.aliases import KEYWORD_ALIASES
from distenv.environment.logging_config import (has_logging_sections, line_suffix, read_ini,
                                                read_logging_ini)
from distenv.errors import ConfigurationError
from distenv.trajectory import Trajectory

KEYWORD_SECTIONS = ("trajectory", "environment", "storage_service")
ITEM_SECTIONS = ("config", "parameters")


@dataclass(frozen=True)
class ConfigItem:
    """One ``[config]`` or ``[parameters]`` entry of a config file."""

    section: str
    name: str
    value: Any
    comment: str = ""


@dataclass(frozen=True)
class ConfigFile:
    """What a config file holds, read and checked."""

    path: str
    keywords: dict
    items: tuple = ()
    logging: dict | None = None


def read_config_file(path: str) -> ConfigFile:
    """Read the sections of a config file (see the module docstring).

    Raises
    ------
    ConfigurationError
        Not an .ini file, a value that is not a literal, or a keyword given twice.
    """
    path = os.fspath(path)
    parser = read_ini(path)
    keywords: dict[str, Any] = {}
    found_in: dict[str, str] = {}
    for section in KEYWORD_SECTIONS:
        if not parser.has_section(section):
            continue
        for key, text in parser.items(section):
            if key in keywords:
                raise ConfigurationError("%s: the keyword %r is in [%s] and in [%s]; give it "
                                         "once" % (path, key, found_in[key], section))
            keywords[key] = _literal(path, section, key, text)
            found_in[key] = section
    items = []
    for section in ITEM_SECTIONS:
        if not parser.has_section(section):
            continue
        for key, text in parser.items(section):
            value, comment = _value_and_comment(path, section, key, text)
            items.append(ConfigItem(section, key, value, comment))
    logging_config = read_logging_ini(path, parser) if has_logging_sections(parser) else None
    return ConfigFile(path, keywords, tuple(items), logging_config)


def _literal(path: str, section: str, key: str, text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ConfigurationError(
            "config file %s, section [%s], key %r%s: %r is not a Python literal (numbers, "
            "'strings' in quotes, True/False/None, tuples, lists, dicts; nothing is executed)"
            % (path, section, key, line_suffix(path, section, key), text)) from None


def _value_and_comment(path: str, section: str, key: str, text: str) -> tuple[Any, str]:
    """``42`` -> ``(42, '')``; ``43, 'a comment'`` -> ``(43, 'a comment')``; ``(1, 'a')``
    stays a tuple value."""
    value = _literal(path, section, key, text)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str) and \
            not text.strip().startswith("("):
        return value[0], value[1]
    return value, ""


def _canonical(name: str) -> str:
    """One spelling per keyword: current keyword names, ``v_``-prefixed properties."""
    name = KEYWORD_ALIASES.get(name, name)
    if name not in Trajectory.SETTABLE_PROPERTIES and \
            "v_" + name in Trajectory.SETTABLE_PROPERTIES:
        return "v_" + name
    return name


def merge_config_file(keywords: Mapping[str, Any], check_path: Any) -> tuple[dict, tuple]:
    """``keywords`` completed by the file named by ``keywords['config']``.

    Parameters
    ----------
    keywords:
        The keywords passed to ``Environment(...)``.
    check_path:
        Validator of the ``config`` keyword (``check(name, value) -> path``).

    Returns
    -------
    (keywords, items)
        Keywords of the file overridden by those passed directly (and ``log_config`` set to the
        file's logging sections unless passed); the ``[config]``/``[parameters]`` items.
    """
    if keywords.get("config") is None:
        return dict(keywords), ()
    config_file = read_config_file(check_path("config", keywords["config"]))
    direct = {_canonical(name) for name in keywords}
    merged = {name: value for name, value in config_file.keywords.items()
              if _canonical(name) not in direct}
    if config_file.logging is not None and "log_config" not in direct and \
            "log_config" not in merged:
        merged["log_config"] = config_file.logging
    merged.update(keywords)
    return merged, config_file.items


def add_config_items(traj: Any, items: tuple, path: str | None) -> None:
    """Add the ``[config]`` and ``[parameters]`` items of the config file to ``traj``.

    Raises
    ------
    ConfigurationError
        An item cannot be added (e.g. the name is taken); the message names file and key.
    """
    for item in items:
        add = traj.f_add_config if item.section == "config" else traj.f_add_parameter
        try:
            add(item.name, item.value, comment=item.comment)
        except Exception as exc:
            raise ConfigurationError("config file %s, section [%s], key %r%s: cannot add it to "
                                     "trajectory %r: %s"
                                     % (path, item.section, item.name,
                                        line_suffix(path or "", item.section, item.name),
                                        traj.v_name, exc)) from exc

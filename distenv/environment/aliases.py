"""pypet's older names for Environment keywords, methods and properties -- all in one place.

The seed manuals document two generations of names. The newer one is what distenv implements;
every older spelling listed here is a thin alias that resolves to it and is documented as such
in ``docs/environment.md``. Nothing else in distenv knows about the old names.
"""

from __future__ import annotations

from typing import Any, Mapping

from distenv.errors import ConfigurationError

#: Old keyword -> current keyword of ``Environment(...)``.
KEYWORD_ALIASES: dict[str, str] = {
    "continuable": "resumable",
    "continue_folder": "resume_folder",
    "delete_continue": "delete_resume",
    "freeze_pool_input": "freeze_input",
}

#: Old method or property name -> current name on :class:`~distenv.environment.Environment`.
METHOD_ALIASES: dict[str, str] = {
    "f_run": "run",
    "f_run_map": "run_map",
    "f_pipeline": "pipeline",
    "f_add_postprocessing": "add_postprocessing",
    "add_postproc": "add_postprocessing",
    "f_add_postproc": "add_postprocessing",
    "f_continue": "resume",
    "f_disable_logging": "disable_logging",
    "v_trajectory": "trajectory",
    "v_traj": "trajectory",
    "traj": "trajectory",
    "v_name": "name",
    "v_hexsha": "hexsha",
    "v_time": "time",
    "v_timestamp": "timestamp",
    "v_current_idx": "current_idx",
}


def resolve_keyword_aliases(keywords: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``keywords`` with every old keyword renamed to its current name.

    Raises
    ------
    ConfigurationError
        If a keyword is given under both its old and its current name.

    Example
    -------
    >>> resolve_keyword_aliases({'continuable': True})
    {'resumable': True}
    """
    resolved: dict[str, Any] = {}
    for name, value in keywords.items():
        current = KEYWORD_ALIASES.get(name, name)
        if current in resolved or (current != name and current in keywords):
            raise ConfigurationError(
                "%r is given twice: as %r (the old name) and as %r; pass only %r"
                % (current, name, current, current))
        resolved[current] = value
    return resolved


def resolve_property_names(names: list[str], settable: tuple[str, ...]) -> dict[str, str]:
    """Map each spelling of a settable trajectory property to its ``v_`` name.

    ``auto_load`` and ``v_auto_load`` both map to ``v_auto_load``.
    """
    spellings: dict[str, str] = {}
    for prefixed in settable:
        spellings[prefixed] = prefixed
        spellings[prefixed.removeprefix("v_")] = prefixed
    return {name: spellings[name] for name in names if name in spellings}


def install_method_aliases(cls: type) -> type:
    """Give ``cls`` every old method/property name of :data:`METHOD_ALIASES` (class decorator).

    An alias is the very same function or property object as the current name, so it can never
    drift from it.
    """
    for old, current in METHOD_ALIASES.items():
        if old in cls.__dict__:
            continue
        if current not in cls.__dict__:
            raise AttributeError("%s has no %r to alias as %r" % (cls.__name__, current, old))
        setattr(cls, old, cls.__dict__[current])
    return cls

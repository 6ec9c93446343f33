"""Clean, unprefixed names for the pypet API -- all of them made here, in one place.

pypet names its methods ``f_*`` and its properties ``v_*`` so that they never collide with
natural naming. distenv keeps those names and adds the unprefixed ones: ``traj.add_parameter``
is ``traj.f_add_parameter``, ``traj.auto_load`` is ``traj.v_auto_load``. Where a child's name
is shadowed by such a method, ``traj['name']`` still reaches the child.
"""

from __future__ import annotations

#: ``v_`` properties that also get an unprefixed name (the common words -- ``name``,
#: ``comment``, ``location`` -- stay prefixed on groups so they do not hide children).
CLEAN_PROPERTIES = ("v_idx", "v_crun", "v_fast_access", "v_auto_load", "v_shortcuts",
                    "v_max_depth", "v_iter_recursive", "v_with_links", "v_lazy_adding",
                    "v_storage_service", "v_explored", "v_locked")


def install_clean_names(*classes: type) -> None:
    """Give every ``f_x`` method the name ``x`` (unless the class defines ``x`` itself)."""
    for cls in classes:
        for attribute in dir(cls):
            if attribute.startswith("f_"):
                clean = attribute[2:]
            elif attribute in CLEAN_PROPERTIES:
                clean = attribute[2:]
            else:
                continue
            if clean not in cls.__dict__ and not any(clean in base.__dict__ for base in cls.__mro__):
                setattr(cls, clean, getattr(cls, attribute) if attribute.startswith("f_")
                        else cls.__dict__.get(attribute) or _find(cls, attribute))


def _find(cls: type, attribute: str):
    for base in cls.__mro__:
        if attribute in base.__dict__:
            return base.__dict__[attribute]
    raise AttributeError(attribute)

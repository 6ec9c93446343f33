"""Per-run nodes held in columns, made visible through natural naming.

Per-run data loaded from storage lives in :class:`~distenv.trajectory.columns.RunColumn`
objects keyed by a path with ``$`` (and ``$set``) for the run (``results.runs.$.z``). It
becomes real nodes only when somebody looks at it, so a million runs cost nothing until used.
"""

from __future__ import annotations

from typing import Any

from distenv.trajectory.leaves import BaseLeaf, Parameter

_SHOWN_MATCHES = 8


class VirtualNodesMixin:
    """Column-held nodes: looking them up, listing them, turning them into real nodes.

    A base of :class:`~distenv.trajectory.naturalnaming.NaturalNamingMixin`; relies on its
    registry (``_register``, ``_group_at``), ``_run_index_of_segment`` and the trajectory's
    ``_leaf_class``.
    """

    def _parse_run_path(self, full_name: str) -> tuple[str, int] | None:
        """``results.runs.run_00000042.z`` -> (``results.runs.$.z``, 42)."""
        segments = full_name.split(".")
        for position, segment in enumerate(segments):
            index = self._run_index_of_segment(segment)
            if index is not None:
                key = segments[:]
                key[position] = "$"
                if position and segments[position - 1] == self._wildcards.set_name(index):
                    key[position - 1] = "$set"
                return ".".join(key), index
        return None

    def _instantiate(self, segments: list[str], index: int) -> list[str]:
        wildcards = self._wildcards
        return [wildcards.run_name(index) if seg == "$" else
                wildcards.set_name(index) if seg == "$set" else seg for seg in segments]

    def _virtual_entries(self, full_name: str) -> tuple[str | None, list]:
        """What a path is in the columns: ('leaf', [(column, index)]), ('group', ...) or None."""
        path = full_name.split(".") if full_name else []
        depth = len(path)
        kind = None
        for column in self._run_columns.values():
            key = column.segments
            if len(key) < depth:
                continue
            index = self._match_prefix(key, path, column)
            if index is False:
                continue
            if len(key) == depth:
                return "leaf", [(column, index)]
            kind = "group"
        return kind, []

    def _match_prefix(self, key: list[str], path: list[str], column: Any) -> Any:
        """Run index (or None) if ``path`` instantiates the start of ``key``; False otherwise."""
        index = None
        set_name = None
        for key_segment, segment in zip(key, path):
            if key_segment == "$":
                index = self._run_index_of_segment(segment)
                if index is None or not column.has(index):
                    return False
                if set_name is not None and self._wildcards.set_name(index) != set_name:
                    return False
            elif key_segment == "$set":
                set_name = segment
            elif key_segment != segment:
                return False
        if set_name is not None and index is None:
            names = getattr(column, "set_names", None)
            if names is None:
                set_of = self._wildcards.set_name
                names = column.set_names = {set_of(i) for i in column.indices().tolist()}
            if set_name not in names:
                return False
        return index

    def _materialize(self, full_name: str) -> Any:
        """Turn a path held in columns into real nodes; ``None`` if there is nothing."""
        if not self._run_columns:
            return None
        kind, entries = self._virtual_entries(full_name)
        if kind is None:
            return None
        if kind == "group":
            return self._group_at(full_name)
        column, index = entries[0]
        return self._leaf_from_column(column, index, full_name)

    def _leaf_from_column(self, column: Any, index: int, full_name: str) -> BaseLeaf:
        existing = self._nodes.get(full_name)
        if existing is not None:
            return existing
        comment, items = column.items_of(index)
        cls = self._leaf_class(column.leaf_class)
        location, _, name = full_name.rpartition(".")
        if issubclass(cls, Parameter):
            leaf = cls(full_name, comment=comment)
            leaf._data = items.get(name, next(iter(items.values()), None))
        else:
            leaf = cls(full_name, comment=comment)
            leaf._data.update(items)
        leaf._stored = True
        group = self._group_at(location)
        group._children[name] = leaf
        leaf._traj = self
        self._register(leaf)
        return leaf

    def _virtual_candidates(self, node: Any, name: str) -> tuple[list, int]:
        """Column-held nodes called ``name`` below ``node``: ([(depth, full, None)...], count)."""
        if not self._run_columns:
            return [], 0
        path = node._full_name.split(".") if node._full_name else []
        base = len(path)
        result: list = []
        count = 0
        for column in self._run_columns.values():
            key = column.segments
            if len(key) <= base or name not in key[base:]:
                continue
            fixed = self._match_prefix(key, path, column)
            if fixed is False:
                continue
            position = base + key[base:].index(name)
            needs_run = "$" in key[: position + 1]
            if not needs_run:
                full = ".".join(key[: position + 1])
                result.append((position + 1 - base, full, None))
                count += 1
                continue
            if fixed is not None:
                indices = [fixed]
            elif self._idx >= 0:
                indices = [self._idx] if column.has(self._idx) else []
            else:
                indices = column.indices().tolist()
            count += len(indices)
            for index in indices[:_SHOWN_MATCHES]:
                full = ".".join(self._instantiate(key[: position + 1], index))
                result.append((position + 1 - base, full, None))
        return result, count

    def _virtual_children(self, group: Any) -> list[str]:
        if not self._run_columns:
            return []
        path = group._full_name.split(".") if group._full_name else []
        base = len(path)
        names: dict[str, None] = {}
        for column in self._run_columns.values():
            key = column.segments
            if len(key) <= base:
                continue
            fixed = self._match_prefix(key, path, column)
            if fixed is False:
                continue
            following = key[base]
            if following == "$":
                indices = [fixed] if fixed is not None else column.indices().tolist()
                run_name = self._wildcards.run_name
                names.update(dict.fromkeys(run_name(i) for i in indices))
            elif following == "$set":
                set_name = self._wildcards.set_name
                names.update(dict.fromkeys(set_name(i) for i in column.indices().tolist()))
            else:
                names[following] = None
        return list(names)

    def _materialize_children(self, group: Any) -> None:
        for name in self._virtual_children(group):
            if name not in group._children:
                full = "%s.%s" % (group._full_name, name) if group._full_name else name
                self._materialize(full)

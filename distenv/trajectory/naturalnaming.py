"""The node registry of a trajectory and how names are resolved.

Real nodes live in ``_nodes`` (full name -> node) and ``_by_name`` (short name -> nodes).
Per-run data loaded from storage is held in columns and made visible by
:mod:`distenv.trajectory.virtualnodes`.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from distenv.constants import BRANCH_SHORTCUTS, BRANCHES
from distenv.errors import (InvalidNameError, NodeExistsError, NodeNotFoundError,
                            NotALeafError, NotUniqueNodeError, StorageError)
from distenv.trajectory.leaves import BaseLeaf, Parameter, Result
from distenv.trajectory.naming import (BRANCH_OF_KIND, add_branch_prefix, check_segment,
                                       split_name)
from distenv.trajectory.tree import GROUP_CLASS_OF_BRANCH, KIND_OF_BRANCH, GroupNode
from distenv.trajectory.virtualnodes import _SHOWN_MATCHES, VirtualNodesMixin

_DEFAULT_RUN = re.compile(r"^run_(\d{8})$")
_RUN_SHORTCUT = re.compile(r"^r_(\d+)$")
_SET_SHORTCUT = re.compile(r"^rts_(\d+)$")


class NaturalNamingMixin(VirtualNodesMixin):
    """Registry and lookup; mixed into :class:`~distenv.trajectory.Trajectory`."""

    # -- registry ------------------------------------------------------------------------
    def _register(self, node: Any) -> None:
        self._nodes[node._full_name] = node
        self._by_name.setdefault(node._name, {})[node._full_name] = node
        self._nn_cache.pop(node._name, None)

    def _unregister(self, node: Any) -> None:
        if node.v_is_group:
            for child in list(node._children.values()):
                self._unregister(child)
        self._nodes.pop(node._full_name, None)
        same = self._by_name.get(node._name)
        if same is not None:
            same.pop(node._full_name, None)
            if not same:
                del self._by_name[node._name]
        self._nn_cache.pop(node._name, None)

    def _remove_node(self, node: Any) -> None:
        parent = self._parent_of(node._full_name)
        self._unregister(node)
        parent._children.pop(node._name, None)
        if isinstance(node, Parameter) and node._full_name in self._explored:
            del self._explored[node._full_name]

    def _parent_of(self, full_name: str) -> Any:
        location = full_name.rpartition(".")[0]
        return self._nodes[location] if location else self

    def _ensure_group(self, parent: Any, segment: str, comment: str = "") -> GroupNode:
        child = parent._children.get(segment)
        if child is None:
            full = "%s.%s" % (parent._full_name, segment) if parent._full_name else segment
            branch = full.partition(".")[0]
            if branch not in GROUP_CLASS_OF_BRANCH:
                raise InvalidNameError(
                    "%r is not below one of the branches %s" % (full, ", ".join(BRANCHES)))
            child = GROUP_CLASS_OF_BRANCH[branch](full, comment, self)
            parent._children[segment] = child
            self._register(child)
        elif child.v_is_leaf:
            raise NodeExistsError("%r is a leaf; nothing can be added below it" % child._full_name)
        elif comment and not child._comment:
            child._comment = comment
        return child

    def _group_at(self, full_name: str) -> GroupNode:
        """The group of this full name, created (with its parents) if needed."""
        node = self._nodes.get(full_name)
        if node is not None:
            if node.v_is_leaf:
                raise NodeExistsError("%r is a leaf; nothing can be added below it" % full_name)
            return node
        location, _, name = full_name.rpartition(".")
        return self._ensure_group(self._group_at(location) if location else self, name)

    def _kind_of_branch(self, group: Any) -> str:
        branch = group._full_name.partition(".")[0]
        if branch not in KIND_OF_BRANCH:
            raise InvalidNameError("the trajectory root has no default leaf kind; use "
                                   "f_add_parameter, f_add_result, ...")
        return KIND_OF_BRANCH[branch]

    # -- adding ----------------------------------------------------------------------------
    def _real_segments(self, segments: list[str], full_name: str) -> list[str]:
        wildcards = self._wildcards
        real = []
        for segment in segments:
            if wildcards.is_wildcard(segment):
                real.append(wildcards.resolve(segment, self._idx))
            else:
                check_segment(segment, full_name)
                if segment.startswith("$"):
                    raise InvalidNameError("%r uses the unknown wildcard %r; known: %s"
                                           % (full_name, segment, sorted(wildcards.functions)))
                real.append(segment)
        return real

    def _add_group(self, parent: Any, name: str, comment: str = "") -> GroupNode:
        segments = split_name(name)
        if parent is self:
            if segments[0] not in BRANCHES:
                raise InvalidNameError("a group at the root must start with one of %s, not %r"
                                       % (", ".join(BRANCHES), name))
        else:
            segments = parent._full_name.split(".") + segments
        real = self._real_segments(segments, name)
        node = self
        for position, segment in enumerate(real):
            node = self._ensure_group(node, segment, comment if position == len(real) - 1 else "")
        return node

    def _add_leaf(self, kind: str, parent: Any, args: tuple, kwargs: dict) -> BaseLeaf:
        """Create and insert a leaf; ``args`` as pypet: (name, value...), (Class, name, ...)
        or (instance,)."""
        if self._is_run and args and args[0].__class__ is str:
            fast = self._run_add_cache.get((kind, parent._full_name, args[0]))
            if fast is not None:
                return self._add_run_leaf(fast, args[1:], kwargs)
        instance = cls = None
        if args and isinstance(args[0], BaseLeaf):
            instance, name, rest = args[0], args[0]._full_name, ()
        elif args and isinstance(args[0], type):
            if not issubclass(args[0], BaseLeaf):
                raise InvalidNameError("%r is not a parameter or result class" % (args[0],))
            if len(args) < 2:
                raise InvalidNameError("give a name after the class %s" % args[0].__name__)
            cls, name, rest = args[0], args[1], args[2:]
        elif args:
            name, rest = args[0], args[1:]
        elif "name" in kwargs:
            name, rest = kwargs.pop("name"), ()
        else:
            raise InvalidNameError("f_add_%s needs a name" % kind)
        if kind == "parameter" and self._is_run:
            raise InvalidNameError("parameter %r cannot be added during a run; add a derived "
                                   "parameter instead (f_add_derived_parameter)" % (name,))
        template = self._leaf_template(kind, parent, name)
        full = template if self._idx < 0 and "{" not in template else self._fill(template)
        if full in self._nodes:
            raise NodeExistsError("%r already exists; use another name or f_remove_child first"
                                  % full)
        location, _, leaf_name = full.rpartition(".")
        group = self._group_at(location)
        if instance is not None:
            leaf = instance
            leaf._full_name, leaf._name = full, leaf_name
        else:
            if cls is None:
                cls = Result if kind == "result" else Parameter
            leaf = cls(full, *rest, **kwargs)
        group._children[leaf_name] = leaf
        leaf._traj = self
        self._register(leaf)
        if self._is_run:
            if "{run}" in template and "{set}" not in template:
                key = template.replace("{run}", "$")
                self._run_added.append(leaf)
                self._run_keys.append((key, self._idx))
                if instance is None and cls is (Result if kind == "result" else Parameter) and \
                        isinstance(name, str):
                    before, _, after = template.partition("{run}")
                    self._run_add_cache[(kind, parent._full_name, name)] = (
                        before, after, key, leaf_name, cls)
            else:
                self._run_added.append(leaf)
                self._run_keys.append(self._parse_run_path(full))
        return leaf

    def _add_run_leaf(self, fast: tuple, rest: tuple, kwargs: dict) -> BaseLeaf:
        """The common case in a run: a result/derived parameter below this run's group."""
        before, after, key, leaf_name, cls = fast
        full = before + self._crun_name() + after
        location = full[: len(full) - len(leaf_name) - 1]
        group = self._nodes.get(location)
        if group is None:
            group = self._group_at(location)
        elif leaf_name in group._children:
            raise NodeExistsError("%r already exists; use another name or f_remove_child first"
                                  % full)
        leaf = cls(full, *rest, **kwargs)
        group._children[leaf_name] = leaf
        leaf._traj = self
        self._register(leaf)
        self._run_added.append(leaf)
        self._run_keys.append((key, self._idx))
        return leaf

    def _leaf_template(self, kind: str, parent: Any, name: str) -> str:
        """Full name with ``{run}``/``{set}`` holes, cached per (kind, parent, name, in-run)."""
        key = (kind, parent._full_name, name, self._is_run)
        template = self._add_cache.get(key)
        if template is not None:
            return template
        branch = BRANCH_OF_KIND[kind]
        segments = split_name(name)
        if parent is self:
            segments = add_branch_prefix(segments, branch, self._is_run, "$")
        else:
            if parent._full_name.partition(".")[0] != branch:
                raise InvalidNameError("cannot add a %s below %r (branch %r); add it below %r"
                                       % (kind.replace("_", " "), parent._full_name,
                                          parent._full_name.partition(".")[0], branch))
            segments = parent._full_name.split(".") + segments
        parts = []
        wildcards = self._wildcards
        for segment in segments:
            if wildcards.is_run_wildcard(segment):
                parts.append("{run}")
            elif wildcards.is_set_wildcard(segment):
                parts.append("{set}")
            elif wildcards.is_wildcard(segment):
                parts.append(None)
            else:
                check_segment(segment, name)
                if segment.startswith("$"):
                    raise InvalidNameError("%r uses the unknown wildcard %r; known: %s"
                                           % (name, segment, sorted(wildcards.functions)))
                parts.append(segment)
        if None in parts:  # user wildcards: resolve now, no caching
            return ".".join(self._real_segments(segments, name))
        template = ".".join(parts)
        self._add_cache[key] = template
        return template

    def _fill(self, template: str) -> str:
        if "{" not in template:
            return template
        return template.format(run=self._crun_name(), set=self._wildcards.set_name(self._idx))

    # -- looking up --------------------------------------------------------------------------
    def _natural_get(self, group: Any, name: str) -> Any:
        cache = self._nn_cache.get(name)
        if cache is not None:
            node = cache.get(group._full_name)
            if node is not None and not (self._auto_load and node.v_is_leaf and
                                         node.f_is_empty()):
                return self._leaf_value(node, self._fast_access) if node.v_is_leaf else node
        return self._get(group, name, fast_access=self._fast_access, shortcuts=self._shortcuts,
                         max_depth=self._max_depth, auto_load=self._auto_load)

    def _natural_set(self, group: Any, name: str, value: Any) -> None:
        """``group.name = value``: ``f_set(value)`` on the leaf ``name`` finds (shortcuts as for
        reading). Raises the leaf's own error (locked, explored parameter), NotALeafError for
        a group, NodeNotFoundError naming ``f_add_parameter``/``f_add_result`` for nothing."""
        where = group._full_name or "traj"
        try:
            node = self._get(group, name, shortcuts=self._shortcuts, max_depth=self._max_depth,
                             auto_load=self._auto_load)
        except NodeNotFoundError:
            raise NodeNotFoundError(
                "cannot assign %s.%s = %r: there is no parameter or result %r there, and "
                "assignment only sets existing leaves; create it with "
                "f_add_parameter(%r, value) or f_add_result(%r, value)"
                % (where, name, value, name, name, name)) from None
        if not node.v_is_leaf:
            raise NotALeafError("cannot assign %s.%s = %r: %r is a group; assign to a "
                                "parameter or result below it" % (where, name, value,
                                                                  node._full_name))
        node.f_set(value)

    def _get(self, group: Any, name: str, fast_access: bool = False, shortcuts: bool = True,
             max_depth: int | None = None, auto_load: bool = False) -> Any:
        if not isinstance(name, str):
            raise InvalidNameError("node names are strings, not %r" % (name,))
        node = group
        segments = name.split(".")
        for position, segment in enumerate(segments):
            if node.v_is_leaf:
                if isinstance(node, Result) and position == len(segments) - 1:
                    return node.f_get(segment)
                raise NodeNotFoundError("%r is a leaf; it has no child %r"
                                        % (node._full_name, segment))
            if segment not in node._children:
                segment = self._translate_segment(segment) or segment
            child = self._child(node, segment)
            if child is None and auto_load and self._storage_service is not None:
                child = self._auto_load_child(node, segment)
            if child is None:
                if not shortcuts:
                    raise NodeNotFoundError(self._not_found_message(node, segment, False))
                child = self._search(node, segment, max_depth)
            node = child
        if len(segments) == 1 and max_depth is None and shortcuts and \
                not self._depends_on_run(node._full_name) and \
                not self._wildcards.is_wildcard(name):  # '$set' etc. change with the run
            self._nn_cache.setdefault(name, {})[group._full_name] = node
        if node.v_is_leaf:
            if auto_load and node.f_is_empty() and self._storage_service is not None:
                self._load_subtree(node._full_name, recursive=False, load_data=2)
            return self._leaf_value(node, fast_access)
        return node

    def _auto_load_child(self, node: Any, segment: str) -> Any:
        """Auto-loading: ``segment`` below ``node`` from storage (a path, no shortcuts)."""
        full = "%s.%s" % (node._full_name, segment) if node._full_name else segment
        try:
            self._load_subtree(full, recursive=True, load_data=2)
        except (NodeNotFoundError, StorageError):
            return None
        return self._child(node, segment)

    def _leaf_value(self, leaf: Any, fast_access: bool) -> Any:
        if fast_access and leaf.f_supports_fast_access():
            return leaf.f_get()
        return leaf

    def _child(self, node: Any, segment: str) -> Any:
        child = node._children.get(segment)
        if child is not None:
            return child
        if node is self and segment in BRANCH_SHORTCUTS:
            return self._children.get(BRANCH_SHORTCUTS[segment])
        if self._run_columns:
            full = "%s.%s" % (node._full_name, segment) if node._full_name else segment
            return self._materialize(full)
        return None

    def _translate_segment(self, segment: str) -> str | None:
        if self._wildcards.is_wildcard(segment):
            return self._wildcards.resolve(segment, self._idx)
        match = _RUN_SHORTCUT.match(segment)
        if match:
            return self._wildcards.run_name(int(match.group(1)))
        match = _SET_SHORTCUT.match(segment)
        if match:
            return self._wildcards.set_name(int(match.group(1)) * 1000)
        return None

    def _search(self, node: Any, name: str, max_depth: int | None) -> Any:
        prefix = node._full_name + "." if node._full_name else ""
        base_depth = node.v_depth
        found: list[tuple[int, str, Any]] = []
        for full, candidate in self._by_name.get(name, {}).items():
            if full.startswith(prefix) and not self._in_other_run(full):
                found.append((full.count(".") + 1 - base_depth, full, candidate))
        virtual, virtual_count = self._virtual_candidates(node, name)
        known = {full for _, full, _ in found}
        found.extend(item for item in virtual if item[1] not in known)
        if max_depth is not None:
            found = [item for item in found if item[0] <= max_depth]
        if not found:
            raise NodeNotFoundError(self._not_found_message(node, name, True))
        best = min(depth for depth, _, _ in found)
        at_best = sorted((item for item in found if item[0] == best), key=lambda item: item[1])
        extra = max(0, virtual_count - len(virtual)) if at_best[0][2] is None else 0
        if len(at_best) > 1 or extra:
            shown = ", ".join(full for _, full, _ in at_best[:_SHOWN_MATCHES])
            total = len(at_best) + extra
            more = " and %d more" % (total - _SHOWN_MATCHES) if total > _SHOWN_MATCHES else ""
            hint = (" set traj.v_crun (traj.f_set_crun(...)) to pick a run, or use "
                    "traj.f_get_from_runs(%r) for all runs;" % name
                    if any(self._depends_on_run(full) for _, full, _ in at_best) else "")
            raise NotUniqueNodeError(
                "%r is ambiguous below %r: it matches %d nodes at depth %d (%s%s);%s give a longer "
                "name" % (name, node._full_name or "the root", total, best, shown, more, hint))
        _, full, candidate = at_best[0]
        return candidate if candidate is not None else self._materialize(full)

    def _not_found_message(self, node: Any, name: str, shortcuts: bool) -> str:
        where = node._full_name or "the trajectory"
        close = difflib.get_close_matches(name, list(self._by_name), n=3)
        hint = "; did you mean %s?" % " or ".join(repr(c) for c in close) if close else ""
        children = sorted(node._children)[:10]
        return "no node %r %s %r (children: %s)%s" % (
            name, "below" if shortcuts else "directly in", where,
            ", ".join(children) if children else "none", hint)

    # -- runs in names ---------------------------------------------------------------------------
    def _run_index_of_segment(self, segment: str) -> int | None:
        match = _DEFAULT_RUN.match(segment)
        if match and self._default_run_names:
            return int(match.group(1))
        if not self._default_run_names:
            return self._run_name_map().get(segment)
        return None

    def _depends_on_run(self, full_name: str) -> bool:
        if "run_" not in full_name and self._default_run_names:
            return False
        return any(self._run_index_of_segment(seg) is not None for seg in full_name.split("."))

    def _in_other_run(self, full_name: str) -> bool:
        if self._idx < 0:
            return False
        current = self._crun_name()
        for segment in full_name.split("."):
            if segment != current and self._run_index_of_segment(segment) is not None:
                return True
        return False

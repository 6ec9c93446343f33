"""Group nodes and natural naming.

Every group resolves attribute access through its trajectory: ``traj.ncards``,
``traj.parameters.poker.ncards`` and ``traj['ncards']`` all reach the same leaf. Short names
are searched breadth-first below the group: the shallowest match wins, several matches at that
depth raise :class:`~distenv.errors.NotUniqueNodeError` naming every one of them.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from distenv.errors import NodeNotFoundError


class GroupNode:
    """A group: named children that are groups or leaves."""

    v_is_leaf = False
    v_is_group = True

    def __init__(self, full_name: str, comment: str = "", traj: Any = None):
        # one store through __dict__ instead of six through __setattr__ (groups are made per run)
        self.__dict__.update(_full_name=full_name,
                             _name=full_name.rpartition(".")[2] if full_name else "",
                             _comment=comment, _traj=traj if traj is not None else self,
                             _children={}, _stored=False)

    # -- natural naming ------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._traj._natural_get(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        """``traj.x = 3`` is ``traj.f_get('x').f_set(3)`` for an existing leaf (pypet); private
        names, ``f_``/``v_`` names and the class's attributes are plain attributes."""
        if name[0] == "_" or name[:2] in ("f_", "v_") or hasattr(type(self), name):
            object.__setattr__(self, name, value)
        else:
            self._traj._natural_set(self, name, value)

    def __getitem__(self, name: str) -> Any:
        return self._traj._natural_get(self, name)

    def __contains__(self, name: str) -> bool:
        return self.f_contains(name, shortcuts=True)

    def __iter__(self) -> Iterator:
        return iter(self.f_get_children(copy=True).values())

    def __dir__(self) -> list:
        return sorted(set(super().__dir__()) | set(self._traj._virtual_children(self))
                      | set(self._children))

    def f_get(self, name: str, fast_access: bool = False, shortcuts: bool = True,
              max_depth: int | None = None, auto_load: bool = False) -> Any:
        """The node ``name`` below this group (dotted names and short names work).

        Parameters
        ----------
        name:
            ``'ncards'``, ``'poker.ncards'``, ``'parameters.poker.ncards'``, wildcards allowed.
        fast_access:
            Return the value instead of the leaf (parameters; single-item results).
        shortcuts:
            Allow skipping intermediate groups; with ``False`` the name must be a path.
        max_depth:
            Search at most this many levels below the group.
        auto_load:
            Load data from storage if the node is not in memory.

        Raises
        ------
        NodeNotFoundError, NotUniqueNodeError
        """
        return self._traj._get(self, name, fast_access=fast_access, shortcuts=shortcuts,
                               max_depth=max_depth, auto_load=auto_load)

    def f_contains(self, item: Any, shortcuts: bool = False, max_depth: int | None = None,
                   with_links: bool = True) -> bool:
        """Whether ``item`` (a name or a node) is below this group."""
        if not isinstance(item, str):
            full = getattr(item, "_full_name", None)
            prefix = self._full_name + "." if self._full_name else ""
            return full is not None and full.startswith(prefix) and \
                self._traj._nodes.get(full) is item
        try:
            self._traj._get(self, item, fast_access=False, shortcuts=shortcuts,
                            max_depth=max_depth, auto_load=False)
        except (NodeNotFoundError, LookupError):
            return False
        return True

    # -- children ------------------------------------------------------------------------
    def f_get_children(self, copy: bool = True) -> dict:
        """Children by name, including per-run data held in loaded columns."""
        self._traj._materialize_children(self)
        return dict(self._children) if copy else self._children

    def f_get_groups(self, copy: bool = True) -> dict:
        return {k: v for k, v in self.f_get_children().items() if v.v_is_group}

    def f_get_leaves(self, copy: bool = True) -> dict:
        return {k: v for k, v in self.f_get_children().items() if v.v_is_leaf}

    def f_has_children(self) -> bool:
        return bool(self._children) or bool(self._traj._virtual_children(self))

    def f_children(self) -> int:
        return len(self.f_get_children(copy=False))

    def f_iter_nodes(self, recursive: bool = True, with_links: bool = True,
                     max_depth: int | None = None,
                     predicate: Callable[[Any], bool] | None = None) -> Iterator:
        """Iterate breadth-first over the nodes below this group."""
        level = [self]
        depth = 0
        while level and (max_depth is None or depth < max_depth):
            following = []
            for group in level:
                for child in list(group.f_get_children(copy=False).values()):
                    if predicate is None or predicate(child):
                        yield child
                    if child.v_is_group:
                        following.append(child)
            if not recursive:
                return
            level = following
            depth += 1

    def f_iter_leaves(self, with_links: bool = True) -> Iterator:
        return (node for node in self.f_iter_nodes() if node.v_is_leaf)

    def f_to_dict(self, fast_access: bool = False, short_names: bool = False,
                  nested: bool = False, with_links: bool = True) -> dict:
        """Leaves below this group by full (or short) name."""
        if nested:
            result: dict = {}
            for name, child in self.f_get_children().items():
                if child.v_is_group:
                    result[name] = child.f_to_dict(fast_access=fast_access, nested=True)
                else:
                    result[name] = self._traj._leaf_value(child, fast_access)
            return result
        leaves = {}
        for leaf in self.f_iter_leaves():
            key = leaf._name if short_names else leaf._full_name
            if short_names and key in leaves:
                raise ValueError("short name %r is not unique below %r; use short_names=False"
                                 % (key, self._full_name or "root"))
            leaves[key] = self._traj._leaf_value(leaf, fast_access)
        return leaves

    # -- adding / removing ---------------------------------------------------------------
    def f_add_group(self, name: str, comment: str = "") -> "GroupNode":
        """Add (or return the existing) group ``name`` below this group."""
        return self._traj._add_group(self, name, comment)

    def f_add_leaf(self, *args: Any, **kwargs: Any) -> Any:
        """Add a leaf of this branch's default kind (parameter, result, ...)."""
        return self._traj._add_leaf(self._traj._kind_of_branch(self), self, args, kwargs)

    def f_remove_child(self, name: str, recursive: bool = False,
                       predicate: Callable | None = None) -> None:
        """Remove the child ``name`` from memory (not from disk)."""
        if name not in self._children:
            raise NodeNotFoundError("%r has no child %r; it has %s"
                                    % (self._full_name or "root", name, sorted(self._children)))
        child = self._children[name]
        if child.v_is_group and child._children and not recursive:
            raise TypeError("%r is a group with children; pass recursive=True to remove it"
                            % child._full_name)
        self._traj._remove_node(child)

    def f_remove(self, recursive: bool = True, predicate: Callable | None = None) -> None:
        parent = self._traj._parent_of(self._full_name)
        parent.f_remove_child(self._name, recursive=recursive)

    # -- storage -------------------------------------------------------------------------
    def f_store_child(self, name: str, recursive: bool = False, store_data: int = 2,
                      max_depth: int | None = None) -> None:
        """Store the child ``name``; ``store_data`` is accepted for pypet (a leaf given to
        store is always written, replacing a stored copy)."""
        node = self.f_get(name, shortcuts=False)
        self._traj._store_nodes([node], recursive=recursive)

    def f_store(self, recursive: bool = True, store_data: int = 2,
                max_depth: int | None = None) -> None:
        """Store this group's leaves (all below it with ``recursive``); ``store_data`` as in
        :meth:`f_store_child`."""
        self._traj._store_nodes([self], recursive=recursive)

    def f_load_child(self, name: str, recursive: bool = False, load_data: int = 2,
                     max_depth: int | None = None) -> Any:
        """Load ``name`` below this group from storage and return it."""
        full = "%s.%s" % (self._full_name, name) if self._full_name else name
        return self._traj._load_subtree(full, recursive=recursive, load_data=load_data)

    def f_load(self, recursive: bool = True, load_data: int = 2, max_depth: int | None = None) -> "GroupNode":
        self._traj._load_subtree(self._full_name, recursive=recursive, load_data=load_data)
        return self

    # -- properties ----------------------------------------------------------------------
    @property
    def v_name(self) -> str:
        return self._name

    @property
    def v_full_name(self) -> str:
        return self._full_name

    @property
    def v_location(self) -> str:
        return self._full_name.rpartition(".")[0]

    @property
    def v_comment(self) -> str:
        return self._comment

    @v_comment.setter
    def v_comment(self, comment: str) -> None:
        self._comment = str(comment)

    @property
    def v_depth(self) -> int:
        return self._full_name.count(".") + 1 if self._full_name else 0

    @property
    def v_branch(self) -> str:
        return self._full_name.partition(".")[0]

    @property
    def v_is_root(self) -> bool:
        return not self._full_name

    @property
    def v_root(self) -> Any:
        return self._traj

    def __repr__(self) -> str:
        return "<%s %s (%d children)>" % (type(self).__name__, self._full_name or "root",
                                          len(self._children))


class ParameterGroup(GroupNode):
    """A group below ``parameters``."""

    def f_add_parameter(self, *args: Any, **kwargs: Any) -> Any:
        return self._traj._add_leaf("parameter", self, args, kwargs)

    def f_add_parameter_group(self, name: str, comment: str = "") -> GroupNode:
        return self.f_add_group(name, comment)


class DerivedParameterGroup(GroupNode):
    """A group below ``derived_parameters``."""

    def f_add_derived_parameter(self, *args: Any, **kwargs: Any) -> Any:
        return self._traj._add_leaf("derived_parameter", self, args, kwargs)

    def f_add_derived_parameter_group(self, name: str, comment: str = "") -> GroupNode:
        return self.f_add_group(name, comment)


class ResultGroup(GroupNode):
    """A group below ``results``."""

    def f_add_result(self, *args: Any, **kwargs: Any) -> Any:
        return self._traj._add_leaf("result", self, args, kwargs)

    def f_add_result_group(self, name: str, comment: str = "") -> GroupNode:
        return self.f_add_group(name, comment)


class ConfigGroup(GroupNode):
    """A group below ``config``."""

    def f_add_config(self, *args: Any, **kwargs: Any) -> Any:
        return self._traj._add_leaf("config", self, args, kwargs)

    def f_add_config_group(self, name: str, comment: str = "") -> GroupNode:
        return self.f_add_group(name, comment)


GROUP_CLASS_OF_BRANCH = {
    "parameters": ParameterGroup,
    "derived_parameters": DerivedParameterGroup,
    "results": ResultGroup,
    "config": ConfigGroup,
}
KIND_OF_BRANCH = {
    "parameters": "parameter",
    "derived_parameters": "derived_parameter",
    "results": "result",
    "config": "config",
}

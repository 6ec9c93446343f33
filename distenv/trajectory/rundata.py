"""Reading per-run data of a trajectory: ``f_get_from_runs`` and ``results_frame``.

Both read the column arrays directly (see :mod:`distenv.trajectory.columns`), so a million
runs need no million nodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from distenv.errors import NotUniqueNodeError
from distenv.trajectory.columns import RunColumn, is_scalar_signature


class RunDataMixin:
    """Per-run data access; mixed into :class:`~distenv.trajectory.Trajectory`."""

    # -- per-run data ----------------------------------------------------------------------------
    def f_get_from_runs(self, name: str, include_default_run: bool = True,
                        use_indices: bool = False, fast_access: bool = False,
                        with_links: bool = True, shortcuts: bool = True,
                        max_depth: int | None = None, auto_load: bool = False) -> dict:
        """``{run_name: node_or_value}`` of ``name`` over all runs, in run order.

        Reads column-held data without creating a node per run when ``fast_access=True``.
        """
        found: dict[int, Any] = {}
        for column in self._columns_for(name):
            if fast_access:
                items = column.item_names()
                if len(items) == 1:
                    found.update(column.values_of(items[0]))
                else:
                    fast_access = False
            if not fast_access:
                for index in column.indices().tolist():
                    full = ".".join(self._instantiate(column.segments, index))
                    found[index] = self._leaf_from_column(column, index, full)
        for full, node in self._by_name.get(name.rpartition(".")[2], {}).items():
            if not node.v_is_leaf or not full.endswith(name):
                continue
            parsed = self._parse_run_path(full)
            if parsed is None or parsed[1] in found:
                continue
            found[parsed[1]] = self._leaf_value(node, fast_access)
        run_name = self._wildcards.run_name
        return {(index if use_indices else run_name(index)): found[index] for index in sorted(found)}

    def _columns_for(self, name: str) -> list[RunColumn]:
        """The per-run columns of ``name``: one, or several holding disjoint runs (buckets of
        a user wildcard such as ``results.$pair.$.w``)."""
        wanted = name.split(".")
        matches = []
        for key, column in self._run_columns.items():
            segments = column.segments
            if "$" not in segments:
                continue
            tail = segments[segments.index("$") + 1:]
            if tail[-len(wanted):] == wanted:
                matches.append((len(tail), key, column))
        if not matches:
            return []
        matches.sort(key=lambda match: match[:2])
        best = [match for match in matches if match[0] == matches[0][0]]
        if len(best) > 1:
            indices = np.concatenate([match[2].indices() for match in best])
            if len(np.unique(indices)) != len(indices):
                raise NotUniqueNodeError("%r matches several per-run items: %s; give a longer "
                                         "name" % (name, ", ".join(m[1] for m in best)))
        return [match[2] for match in best]

    def results_frame(self) -> Any:
        """One pandas DataFrame, a row per run: explored parameters, scalar per-run results
        and derived parameters, and the run status. No Python loop over runs.
        """
        import pandas as pd
        length = self._length
        data: dict[str, Any] = {"run_name": self.f_get_run_names()}
        shorts = [p._name for p in self._explored.values()]
        for full, parameter in self._explored.items():
            label = parameter._name if shorts.count(parameter._name) == 1 else \
                full.removeprefix("parameters.")
            data[label] = parameter._explored_range
        held: dict[str, np.ndarray] = {}  # label -> runs of the columns shown under it
        for key, column in sorted(self._run_columns.items()):
            column.ensure_loaded()
            segments = column.segments
            tail = ".".join(segments[segments.index("$") + 1:]) if "$" in segments else key
            for item, array in column.arrays.items():
                sig = column.signatures[item]
                if not is_scalar_signature(sig) or item in ():
                    continue
                label = tail if item == segments[-1] else "%s.%s" % (tail, item)
                values = _aligned(column, item, array, sig, length)
                runs = column.indices()
                if label in held and not np.intersect1d(held[label], runs).size:
                    data[label] = _fill_runs(data[label], values, runs)  # another bucket
                    held[label] = np.union1d(held[label], runs)
                    continue
                if label in data:  # e.g. a result named like a parameter: the full key
                    label = ".".join(seg for seg in segments if seg != "$")
                    label = label if item == segments[-1] else "%s.%s" % (label, item)
                data[label] = values
                held[label] = runs
        table = self._run_table
        status = table.status_names()
        data["status"] = status if len(status) == length else ["pending"] * length
        data["runtime"] = table.runtime if len(table.runtime) == length else np.full(length, np.nan)
        frame = pd.DataFrame(data)
        frame.index.name = "run_index"
        return frame


def _aligned(column: RunColumn, item: str, array: np.ndarray, sig: tuple, length: int) -> Any:
    """A column's values placed at their run index; missing runs are NaN/None."""
    from distenv.trajectory.columns import unpack
    index = column.run_index
    complete = len(index) == length and not column.irregular
    if sig[0] in ("str", "bytes"):
        values = unpack(sig, array, column.encoding)
        if complete:
            return values
        out: list = [None] * length
        for position, value in zip(index.tolist(), values):
            out[position] = value
        for run, (_, items) in column.irregular.items():
            out[run] = items.get(item)
        return out
    if complete:
        return array
    if array.dtype.kind in "iub" :
        out_array = np.full(length, np.nan)
    else:
        out_array = np.full(length, np.nan, dtype=np.result_type(array.dtype, np.float64))
    out_array[index] = array
    for run, (_, items) in column.irregular.items():
        if item in items and np.isscalar(items[item]):
            try:
                out_array[run] = items[item]
            except (TypeError, ValueError):
                pass
    return out_array


def _fill_runs(existing: Any, values: Any, runs: np.ndarray) -> Any:
    """``existing`` with the entries of ``runs`` taken from ``values`` (both run-aligned)."""
    if isinstance(existing, list):
        existing = list(existing)
        for run in runs.tolist():
            existing[run] = values[run]
        return existing
    merged = np.array(existing, dtype=np.result_type(existing, values))
    merged[runs] = np.asarray(values)[runs]
    return merged

"""The in-memory model: tree, parameters, results, exploration, wildcards."""

from distenv.trajectory.aliases import install_clean_names
from distenv.trajectory.exploration import cartesian_product
from distenv.trajectory.leaves import (ArrayParameter, BaseLeaf, Parameter, PickleParameter,
                                       PickleResult, Result, SparseParameter, SparseResult)
from distenv.trajectory.trajectory import Trajectory
from distenv.trajectory.tree import (ConfigGroup, DerivedParameterGroup, GroupNode,
                                     ParameterGroup, ResultGroup)

install_clean_names(Trajectory, GroupNode, ParameterGroup, DerivedParameterGroup, ResultGroup,
                    ConfigGroup, Parameter, ArrayParameter, SparseParameter, PickleParameter,
                    Result, PickleResult, SparseResult)

__all__ = ["ArrayParameter", "BaseLeaf", "ConfigGroup", "DerivedParameterGroup", "GroupNode",
           "Parameter", "ParameterGroup", "PickleParameter", "PickleResult", "Result",
           "ResultGroup", "SparseParameter", "SparseResult", "Trajectory", "cartesian_product"]

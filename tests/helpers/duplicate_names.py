"""A second class called ``TaggedResult``: class names of leaves must be unique."""

from distenv import Result


class TaggedResult(Result):
    __slots__ = ()

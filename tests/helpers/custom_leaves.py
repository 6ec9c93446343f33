"""Custom leaf classes for the ``dynamic_imports`` tests (importable by dotted name)."""

from __future__ import annotations

from distenv import Parameter, Result


class CelsiusParameter(Parameter):
    """A parameter that only takes temperatures above absolute zero."""

    __slots__ = ()

    def _check_value(self, data):
        super()._check_value(data)
        if isinstance(data, (int, float)) and data < -273.15:
            from distenv.errors import UnsupportedTypeError
            raise UnsupportedTypeError("%r is below absolute zero" % (data,))

    def kelvin(self):
        return self.f_get() + 273.15


class TaggedResult(Result):
    """A result that knows it is special."""

    __slots__ = ()

    def tag(self):
        return "tagged:" + self.v_name


class OtherModuleResult(Result):
    __slots__ = ()

"""Post-processing and pipelines: what the user's functions return, and what that means.

A post-processing function is called as ``postproc(traj, results, *args, **kwargs)`` after the
runs, where ``results`` is ``[(run_index, value), ...]`` of every run made so far by this
``run`` call, in run-index order. It may return

* ``None`` -- done;
* a dict -- explore it further (``traj.f_expand(that_dict)``), run the new runs, call again;
* a tuple/list of up to five elements ``(expand_dict, job_args, job_kwargs, postproc_args,
  postproc_kwargs)``; ``None`` entries keep the current value.

It may also call ``traj.f_expand`` itself; new runs are made either way.

A pipeline function takes only the trajectory and returns ``(job, args, kwargs)`` or
``((job, args, kwargs), (postproc, args, kwargs))``; shorter tuples leave out empty
arguments (``(job,)`` is fine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from distenv.errors import ConfigurationError


@dataclass(frozen=True)
class Call:
    """A function with the extra positional and keyword arguments it is called with."""

    function: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def with_arguments(self, args: Any = None, kwargs: Any = None) -> "Call":
        """The same function with new ``args``/``kwargs`` (``None`` keeps the current ones)."""
        return Call(self.function,
                    self.args if args is None else _args("new positional arguments", args),
                    self.kwargs if kwargs is None else _kwargs("new keyword arguments", kwargs))


@dataclass(frozen=True)
class PostprocReturn:
    """A post-processing function's return value, understood."""

    expand: dict | None = None
    job_args: tuple | None = None
    job_kwargs: dict | None = None
    postproc_args: tuple | None = None
    postproc_kwargs: dict | None = None


def make_call(what: str, function: Any, args: Any = (), kwargs: Any = None) -> Call:
    """Validate and bundle ``function`` with its arguments."""
    if not callable(function):
        raise ConfigurationError("%s must be callable, not %r" % (what, function))
    return Call(function, _args(what + " positional arguments", args),
                _kwargs(what + " keyword arguments", {} if kwargs is None else kwargs))


def _args(what: str, value: Any) -> tuple:
    if not isinstance(value, (tuple, list)):
        raise ConfigurationError("%s must be a tuple or list, not %r (for one argument write "
                                 "(value,) with the comma)" % (what, value))
    return tuple(value)


def _kwargs(what: str, value: Any) -> dict:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise ConfigurationError("%s must be a dict with string keys, not %r" % (what, value))
    return dict(value)


def interpret_postproc_return(value: Any) -> PostprocReturn:
    """Understand what a post-processing function returned (see the module docstring).

    Raises
    ------
    ConfigurationError
        Anything but ``None``, a dict or a tuple/list of at most five elements.
    """
    if value is None:
        return PostprocReturn()
    if isinstance(value, dict):
        return PostprocReturn(expand=value)
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 5:
        raise ConfigurationError(
            "a post-processing function returns None, a dict to expand the trajectory, or up to "
            "five elements (expand_dict, job_args, job_kwargs, postproc_args, postproc_kwargs); "
            "it returned %r" % (value,))
    parts = list(value) + [None] * (5 - len(value))
    expand, job_args, job_kwargs, post_args, post_kwargs = parts
    if expand is not None and not isinstance(expand, dict):
        raise ConfigurationError("the first element a post-processing function returns must be "
                                 "None or a dict to expand the trajectory, not %r" % (expand,))
    return PostprocReturn(
        expand or None,
        None if job_args is None else _args("job_args returned by post-processing", job_args),
        None if job_kwargs is None else _kwargs("job_kwargs returned by post-processing",
                                                job_kwargs),
        None if post_args is None else _args("postproc_args returned by post-processing",
                                             post_args),
        None if post_kwargs is None else _kwargs("postproc_kwargs returned by post-processing",
                                                 post_kwargs))


def parse_pipeline_return(value: Any) -> tuple[Call, Call | None]:
    """``(job call, post-processing call or None)`` from a pipeline function's return value.

    Raises
    ------
    ConfigurationError
        A return value of another shape, naming what was returned.
    """
    shape = ("a pipeline function returns (job, args, kwargs) or ((job, args, kwargs), "
             "(postproc, args, kwargs)); it returned %r" % (value,))
    if not isinstance(value, (tuple, list)) or not value:
        raise ConfigurationError(shape)
    if callable(value[0]):
        return _triple("the job", value, shape), None
    if len(value) > 2 or not isinstance(value[0], (tuple, list)):
        raise ConfigurationError(shape)
    job = _triple("the job", value[0], shape)
    post = value[1] if len(value) == 2 else None
    return job, (None if post is None else _triple("the post-processing function", post, shape))


def _triple(what: str, value: Any, shape: str) -> Call:
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 3:
        raise ConfigurationError(shape)
    function = value[0]
    args = value[1] if len(value) > 1 else ()
    kwargs = value[2] if len(value) > 2 else {}
    return make_call(what, function, args, kwargs)

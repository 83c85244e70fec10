"""Errors and warnings of mcaann: one neutral home that every layer may import."""

from __future__ import annotations


class StudyError(ValueError):
    """Bad study input: ``str()`` is one line naming the field and the reason."""


class Terminated(BaseException):
    """The process received SIGTERM (a batch scheduler's stop): unwinds like ``KeyboardInterrupt``."""


class McaannWarning(UserWarning):
    """A value mcaann accepted but a designer should look at (one line)."""

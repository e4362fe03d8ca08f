"""Errors and notices: the messages users read.

Every error a user can cause subclasses :class:`LabcoatError` and says three things:
what is wrong, the file, column or value concerned, and how to fix it. The CLI prints
``str(error)`` without a traceback and exits with :data:`LabcoatError.exit_code`.

Notices are warnings about something labcoat did on the user's behalf (a column
dropped, rows skipped); they subclass :class:`LabcoatNotice` so they can be filtered.

Examples
--------
>>> raise TargetError("Target column 'churnn' is not in the data. Did you mean 'churn'?")
Traceback (most recent call last):
...
labcoat.errors.TargetError: Target column 'churnn' is not in the data. Did you mean 'churn'?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LabcoatError(Exception):
    """Base class of every error caused by the user's input or settings."""

    exit_code = 2


class DataError(LabcoatError, ValueError):
    """A data source cannot be read or its content cannot be used."""


class DataSourceError(DataError, FileNotFoundError):
    """A file is missing, unreadable or of an unknown format."""


class TargetError(DataError):
    """The target column is absent or unusable (all missing, a single class...)."""


class SchemaError(DataError):
    """New data does not match the schema the model was trained on."""


class ConfigError(LabcoatError, ValueError):
    """A setting (budget, metric, task, seed...) has an invalid value."""


class BudgetError(LabcoatError, RuntimeError):
    """The time budget is too small for even one model to be trained."""


class ModelFileError(LabcoatError, OSError):
    """A saved model directory is missing, incomplete or from another version."""


class TrackingError(LabcoatError, RuntimeError):
    """The tracking store or server cannot be used (unreachable, unwritable, locked)."""


class ClusterError(LabcoatError, ConnectionError):
    """The Ray cluster given for the trials cannot be used (unreachable, no CPUs)."""


class RegistryError(LabcoatError, LookupError):
    """A registered model, version, alias or run does not exist, or the change is refused."""


class NotFittedError(LabcoatError, AttributeError):
    """A model was used before it was fitted."""


class LabcoatNotice(UserWarning):
    """Something labcoat did on the user's behalf: a column dropped, rows skipped..."""


def did_you_mean(name: str, choices: Iterable[str], *, limit: int = 3) -> str:
    """Return a ``" Did you mean 'x'?"`` suffix for ``name`` among ``choices``, or ``""``.

    Examples
    --------
    >>> did_you_mean("churnn", ["age", "churn"])
    " Did you mean 'churn'?"
    """
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=limit, cutoff=0.6)
    if not matches:
        return ""
    quoted = " or ".join(f"'{lowered[m]}'" for m in matches)
    return f" Did you mean {quoted}?"


def listed(items: Iterable[object], limit: int = 12) -> str:
    """Items quoted and joined for a message, the first ``limit`` of them.

    Examples
    --------
    >>> listed(["a", "b"])
    "'a', 'b'"
    """
    names = [str(i) for i in items]
    shown = ", ".join(f"'{i}'" for i in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")

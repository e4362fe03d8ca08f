"""Time budgets: parsing ``"90s"``, ``"5m"``, ``"1h"`` and keeping track of what is left."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from labcoat.errors import ConfigError

_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zµ]*)\s*$", re.IGNORECASE)


def parse_budget(value: float | int | str | None) -> float | None:
    """Seconds in ``value``: a number of seconds or a string such as ``"30s"``, ``"5m"``, ``"1h"``.

    Examples
    --------
    >>> parse_budget("5m"), parse_budget(90), parse_budget(None)
    (300.0, 90.0, None)
    """
    return parse_duration(value, _UNITS, what="Budget", examples="seconds (60) or a number with a unit: "
                                                                  "'30s', '5m', '1h'")


def parse_duration(value: float | int | str | None, units: Mapping[str, float], *, what: str,
                   examples: str) -> float | None:
    """Seconds in ``value``, a number of seconds or a number followed by one of ``units`` (their
    seconds); a :class:`ConfigError` naming ``what`` and giving ``examples`` when it is neither,
    or not positive.

    >>> parse_duration("2ms", {"ms": 1e-3}, what="limit", examples="'2ms'")
    0.002
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _PATTERN.match(str(value))
        unit = match.group(2).lower() if match else ""
        if not match or unit not in units:
            raise ConfigError(f"{what} {value!r} is not a duration. Write {examples}.")
        seconds = float(match.group(1)) * units[unit]
    if not seconds > 0:
        raise ConfigError(f"{what} must be positive; got {value!r}.")
    return seconds


@dataclass
class Clock:
    """Wall-clock time since a start, against an optional budget (seconds)."""

    budget: float | None
    start: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def end(self) -> float | None:
        return None if self.budget is None else self.start + self.budget

    @property
    def remaining(self) -> float:
        return float("inf") if self.budget is None else self.start + self.budget - time.monotonic()

"""Time budgets: parsing ``"90s"``, ``"5m"``, ``"1h"`` and keeping track of what is left."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from labcoat.errors import ConfigError

_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_budget(value: float | int | str | None) -> float | None:
    """Seconds in ``value``: a number of seconds or a string such as ``"30s"``, ``"5m"``, ``"1h"``.

    Examples
    --------
    >>> parse_budget("5m"), parse_budget(90), parse_budget(None)
    (300.0, 90.0, None)
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _PATTERN.match(str(value))
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ConfigError(
                f"Budget {value!r} is not a duration. Write seconds (60) or a number with a unit: "
                "'30s', '5m', '1h'."
            )
        seconds = float(match.group(1)) * _UNITS[unit]
    if not seconds > 0:
        raise ConfigError(f"Budget must be positive; got {value!r}.")
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

"""The column record: a column's :class:`Role` (what it is for modelling) and the
:class:`Column` facts learned about it from the training data, which a schema holds one per column.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Role(str, Enum):
    """What a column is, as far as modelling is concerned."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    IDENTIFIER = "identifier"
    CONSTANT = "constant"


#: Roles that feed models. Identifier and constant columns are excluded.
FEATURE_ROLES = (Role.NUMERIC, Role.CATEGORICAL, Role.BOOLEAN, Role.DATETIME, Role.TEXT)


@dataclass
class Column:
    """One column of the training data and what was learned about it."""

    name: str
    role: Role
    dtype: str
    missing_rate: float
    n_unique: int
    reason: str = ""
    #: Observed values for categorical columns (most frequent first); [false, true] for booleans.
    categories: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["role"] = self.role.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Column":
        return cls(**{**data, "role": Role(data["role"])})

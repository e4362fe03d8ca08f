"""Model families behind a registry: adding a family is adding one module and one line here.

Examples
--------
>>> sorted(FAMILIES)[:3]
['catboost', 'extra_trees', 'hist_gb']
"""

from __future__ import annotations

from labcoat.errors import ConfigError
from labcoat.models._base import (SMALL_INPUT, TABULAR_TASKS, BuildContext, EstimatorType, Family, FitOutcome, Merged,
                                  Params, predict_output)
from labcoat.models.catboost import CatBoostFamily
from labcoat.models.extra_trees import ExtraTreesFamily
from labcoat.models.hist_gb import HistGBFamily
from labcoat.models.knn import KNNFamily
from labcoat.models.lightgbm import LightGBMFamily
from labcoat.models.linear import LinearFamily
from labcoat.models.random_forest import RandomForestFamily
from labcoat.models.xgboost import XGBoostFamily

#: Registered families, in the order the default portfolio tries them.
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [LightGBMFamily(), CatBoostFamily(), XGBoostFamily(), ExtraTreesFamily(),
              RandomForestFamily(), LinearFamily(), HistGBFamily(), KNNFamily()]
}


def get_family(name: str) -> Family:
    """The registered family called ``name``."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"Unknown model family {name!r}. Choose from: {', '.join(FAMILIES)}.") from None


__all__ = ["FAMILIES", "SMALL_INPUT", "TABULAR_TASKS", "BuildContext", "EstimatorType", "Family", "FitOutcome", "Merged",
           "Params", "get_family", "predict_output"]

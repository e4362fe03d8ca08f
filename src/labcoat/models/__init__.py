"""Model families behind a registry: adding a family is adding one module and one line here.

A family whose library is an optional extra (``mlp``: PyTorch) is registered whether or not
the library is installed; without it, the default search leaves it out and asking for it by
name is refused with the command that installs it.

Examples
--------
>>> sorted(FAMILIES)[:3]
['catboost', 'extra_trees', 'hist_gb']
>>> "mlp" in FAMILIES, "lightgbm" in default_families()
(True, True)
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
from labcoat.models.mlp import MLPFamily
from labcoat.models.random_forest import RandomForestFamily
from labcoat.models.text import NBSVMFamily, TextLinearFamily, TextSVMFamily
from labcoat.models.xgboost import XGBoostFamily

#: Registered families, in the order the default portfolio tries them (the text families, first,
#: only on a text-first table).
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [TextLinearFamily(), NBSVMFamily(), TextSVMFamily(), LightGBMFamily(), CatBoostFamily(), XGBoostFamily(), ExtraTreesFamily(),
              RandomForestFamily(), LinearFamily(), HistGBFamily(), KNNFamily(), MLPFamily()]
}


def get_family(name: str) -> Family:
    """The registered family called ``name``, if it can run here."""
    try:
        family = FAMILIES[name]
    except KeyError:
        raise ConfigError(f"Unknown model family {name!r}. Choose from: {', '.join(FAMILIES)}.") from None
    why = family.missing_library()
    if why is not None:
        raise ConfigError(why)
    return family


def default_families() -> list[str]:
    """The families searched when none are named: all but the opt-in ones and those whose
    library is not installed (the MLP without PyTorch), in registry order."""
    return [name for name, f in FAMILIES.items() if not f.opt_in and f.missing_library() is None]


__all__ = ["FAMILIES", "SMALL_INPUT", "TABULAR_TASKS", "BuildContext", "EstimatorType", "Family", "FitOutcome", "Merged",
           "Params", "default_families", "get_family", "predict_output"]

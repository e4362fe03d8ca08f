"""Extremely randomised trees (scikit-learn)."""

from labcoat.models._forest import ForestFamily


class ExtraTreesFamily(ForestFamily):
    name = "extra_trees"
    classifier = "ExtraTreesClassifier"
    regressor = "ExtraTreesRegressor"
    seconds_per_million_cells = 3.0
    seconds_per_fold = 0.3

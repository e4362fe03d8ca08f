"""Random forest (scikit-learn)."""

from labcoat.models._forest import ForestFamily


class RandomForestFamily(ForestFamily):
    name = "random_forest"
    classifier = "RandomForestClassifier"
    regressor = "RandomForestRegressor"
    seconds_per_million_cells = 6.0
    seconds_per_fold = 0.4

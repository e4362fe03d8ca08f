"""Recommendation (``task="recommend"``): items to suggest to each user, learned from their
interactions. :func:`~labcoat.tasks.recommend.fit.fit_recommend` fits a
:class:`~labcoat.tasks.recommend.model.RecommendModel`."""
from labcoat.tasks.recommend.model import RecommendModel, is_recommend_folder, load

__all__ = ["RecommendModel", "is_recommend_folder", "load"]

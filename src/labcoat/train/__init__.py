"""``labcoat.fit``: from a table and a target column to a fitted, ensembled :class:`Model`.

The pipeline is in :mod:`labcoat.train.pipeline`; what it shares with the steps around it:
:mod:`~labcoat.train.budget` (how the time budget is divided), :mod:`~labcoat.train.refit`
(the ensemble members on all rows), :mod:`~labcoat.train.ensemble_outputs` (the ensemble's
out-of-fold predictions and fold scores), :mod:`~labcoat.train.leaderboard` and
:mod:`~labcoat.train.post_fit` (the steps after the fit).
"""

from labcoat.train.pipeline import fit

__all__ = ["fit"]

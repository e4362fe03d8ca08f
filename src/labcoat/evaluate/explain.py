"""Explanations: which columns matter, how the prediction moves with them, and why one row got
its prediction. This module holds no code: it gathers the public names of the modules that do.

Every result is over the RAW columns a user gave (``Model.schema.features``), whatever the
preprocessing made of them (one-hot columns, date parts, TF-IDF words):

- :func:`permutation_importance` (``labcoat.evaluate.importance``): the drop of the model's own
  metric when a column is shuffled (scikit-learn's ``permutation_importance``).
- :func:`shap_values`, :class:`ShapValues` (``labcoat.evaluate.shap_values``): per-row
  contributions that add up to the model's output (SHAP values, interventional, against a
  background sample): exact ``shap.TreeExplainer`` values for the tree members it handles, a
  sampling estimate for the others.
- :func:`partial_dependence` (``labcoat.evaluate.partial_dependence``): the average output as
  one column sweeps a grid of values.
- :func:`explain_row`, :class:`Explanation`, :data:`OTHER_COLUMNS`
  (``labcoat.evaluate.row_explanation``; ``Model.explain``, ``labcoat explain``): a row's
  prediction in words.
- :func:`summarize` (``labcoat.evaluate.explain_summary``): a compact, JSON-ready summary of
  the above for reports, within seconds.

What they share (preparing and sampling rows, the output's label, JSON values) is in
``labcoat.evaluate._explain_common``.

What is explained (the "output") is the probability of the positive class for binary models
(``classes_[1]``), of one class for multiclass models (by default each row's predicted class)
and the predicted value for regression.

How it is computed
------------------
The rows of a frame are encoded once per preprocessing; any row mixing raw columns of several
rows (a column shuffled, a value from a background row, a grid value) is then assembled from
the encoded columns, which gives the model's exact output on it without preparing and
transforming it again (``labcoat.evaluate._encoded``). SHAP values are computed in
``labcoat.evaluate._shapley``.
"""

from __future__ import annotations

from labcoat.evaluate.explain_summary import summarize
from labcoat.evaluate.importance import permutation_importance
from labcoat.evaluate.partial_dependence import partial_dependence
from labcoat.evaluate.row_explanation import OTHER_COLUMNS as OTHER_COLUMNS
from labcoat.evaluate.row_explanation import Explanation, explain_row
from labcoat.evaluate.shap_values import ShapValues, shap_values

__all__ = ["Explanation", "ShapValues", "explain_row", "partial_dependence", "permutation_importance",
           "shap_values", "summarize"]

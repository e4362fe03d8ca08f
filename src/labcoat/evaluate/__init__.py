"""Evaluation: metrics (and, later, intervals, paired tests, calibration, explanations)."""

from labcoat.evaluate.metrics import METRICS, Metric, get_metric

__all__ = ["METRICS", "Metric", "get_metric"]

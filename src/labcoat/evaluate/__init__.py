"""Evaluation: metrics (and, later, intervals, paired tests, calibration, explanations)."""

from labcoat.evaluate.metrics import METRICS, Metric, default_metric, get_metric

__all__ = ["METRICS", "Metric", "default_metric", "get_metric"]

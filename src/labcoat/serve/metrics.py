"""Prometheus metrics of the service: requests and latency per endpoint and status, the
distribution of predictions, validation failures and flags (unseen categories, out-of-range
values, missing values).

With several worker processes, prometheus_client's multiprocess mode adds up the workers'
metrics (``PROMETHEUS_MULTIPROC_DIR``, set by ``labcoat serve --workers N``).

Examples
--------
>>> import pandas as pd
>>> metrics = ServiceMetrics(None)
>>> metrics.observe("/predict", 200, 0.002)
>>> b'labcoat_requests_total{endpoint="/predict",status="200"} 1.0' in metrics.render()
True
"""
from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labcoat.model import Model
    from labcoat.serve.validation import Problem

#: Latency buckets (seconds): the service answers single rows in about a millisecond.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: Buckets of requests per model call.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
#: Buckets of predicted probabilities (classification).
PROBABILITY_BUCKETS = tuple(i / 10 for i in range(1, 11))


class ServiceMetrics:
    """The service's Prometheus collectors, in a registry of their own."""

    def __init__(self, model: Model | None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

        disable_created_metrics()  # the *_created series double the output and say nothing here
        self.registry = CollectorRegistry()
        self.requests = Counter("labcoat_requests", "Requests by endpoint and status.",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("labcoat_request_seconds", "Time to answer, by endpoint.", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.failures = Counter("labcoat_validation_failures", "Refused requests by reason.", ["reason"],
                                registry=self.registry)
        self.flags = Counter("labcoat_validation_flags", "Answered rows flagged by validation, by kind and column.",
                             ["kind", "column"], registry=self.registry)
        self.rows = Counter("labcoat_predicted_rows", "Rows predicted, by predicted class (or 'value').",
                            ["prediction"], registry=self.registry)
        classification = model is not None and model.task.estimator_type == "classifier"
        self.values = Histogram("labcoat_prediction", "Predicted probability of the predicted class, or the "
                                "predicted value.", buckets=PROBABILITY_BUCKETS if classification
                                else Histogram.DEFAULT_BUCKETS, registry=self.registry)
        self.classification = classification
        self.batches = Histogram("labcoat_batch_requests", "Requests predicted together in one model call "
                                 "(micro-batching of concurrent requests).", buckets=BATCH_BUCKETS,
                                 registry=self.registry)

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def batch(self, requests: int) -> None:
        self.batches.observe(requests)

    def failure(self, reason: str) -> None:
        self.failures.labels(reason).inc()

    def predictions(self, table: dict[str, list[Any]], flags: list[Problem]) -> None:
        """Count a request's predictions (``table``: the predictions table's columns as lists)."""
        for flag in flags:
            self.flags.labels(flag.kind, flag.column).inc()
        predicted, *probabilities = table.values()
        if self.classification:
            for label, count in Counter(predicted).items():
                self.rows.labels(str(label)).inc(count)
            for row in zip(*probabilities):
                self.values.observe(max(row))
        else:
            self.rows.labels("value").inc(len(predicted))
            for value in predicted:
                self.values.observe(value)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if folder:
            from prometheus_client import CollectorRegistry
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=folder)
            return generate_latest(registry)
        return generate_latest(self.registry)

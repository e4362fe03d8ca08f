"""Anomaly and fraud detection (``task="anomaly"``): unusual rows found without labels or with a
few, by an ensemble of PyOD detectors. :func:`~labcoat.tasks.anomaly.fit.fit_anomaly` fits an
:class:`~labcoat.tasks.anomaly.model.AnomalyModel`."""
from labcoat.tasks.anomaly.model import AnomalyModel

__all__ = ["AnomalyModel"]

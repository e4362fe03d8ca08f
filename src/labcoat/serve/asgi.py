"""The ASGI entry point uvicorn's workers import: the service's settings travel in environment
variables (``LABCOAT_SERVE_*``), since each worker process builds its own app.

Examples
--------
>>> settings_to_env({"model": "m", "max_batch": 10})["LABCOAT_SERVE_MAX_BATCH"]
'10'
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

_PREFIX = "LABCOAT_SERVE_"
#: Each setting's parser from its variable's text; the values are Service's keyword arguments.
_FIELDS: dict[str, Callable[[str], Any]] = {"model": str, "tracking_uri": str, "token": str, "log_path": str, "max_batch": int, "max_body": int,
           "follow_alias": lambda v: v == "1", "follow_seconds": float, "explore": str}


def settings_to_env(settings: dict[str, Any]) -> dict[str, str]:
    """Environment variables carrying ``settings`` (``None`` values are left out)."""
    out = {}
    for key, value in settings.items():
        if value is not None:
            out[_PREFIX + key.upper()] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return out


def create_app_from_env() -> FastAPI:
    """The app for the settings in the environment (uvicorn calls this in every worker)."""
    import warnings

    from labcoat.errors import LabcoatNotice
    from labcoat.serve.app import create_app
    from labcoat.api import load_forecaster, load_own
    from labcoat.serve.forecast_app import ForecastService, ServedForecaster, create_forecast_app
    from labcoat.serve.follow import FOLLOW_SECONDS
    from labcoat.serve.service import Service

    # Each request's flags are in its answer and in /metrics; as Python warnings on stderr
    # they would only fill the server's log.
    warnings.filterwarnings("ignore", category=LabcoatNotice)

    settings = {key: cast(os.environ[_PREFIX + key.upper()]) for key, cast in _FIELDS.items()
                if _PREFIX + key.upper() in os.environ}
    reference = settings.pop("model")
    explore = settings.pop("explore", None)
    recommender = load_own(reference, "recommend", settings.get("tracking_uri"))
    if recommender is not None:
        from labcoat.serve.recommend_app import RecommendService, ServedRecommender, create_recommend_app

        served = RecommendService(reference, tracking_uri=settings.get("tracking_uri"),
                                  follow_alias=settings.get("follow_alias", False),
                                  follow_seconds=settings.get("follow_seconds", FOLLOW_SECONDS),
                                  loaded=ServedRecommender(*recommender))
        return create_recommend_app(served, token=settings.get("token"), explore=explore,
                                    log_path=settings.get("log_path", "predictions.db"))
    matcher = load_own(reference, "match", settings.get("tracking_uri"))
    if matcher is not None:
        from labcoat.serve.match_app import MAX_RECORDS, MatchService, ServedMatcher, create_match_app

        matching = MatchService(reference, tracking_uri=settings.get("tracking_uri"),
                                follow_alias=settings.get("follow_alias", False),
                                follow_seconds=settings.get("follow_seconds", FOLLOW_SECONDS),
                                loaded=ServedMatcher(*matcher))
        return create_match_app(matching, token=settings.get("token"),
                                log_path=settings.get("log_path", "predictions.db"),
                                max_records=settings.get("max_batch", MAX_RECORDS))
    detector = load_own(reference, "anomaly", settings.get("tracking_uri"))
    if detector is not None:
        from labcoat.serve.anomaly_app import AnomalyService, ServedDetector, create_anomaly_app
        from labcoat.serve.service import MAX_BATCH, MAX_BODY

        detecting = AnomalyService(reference, tracking_uri=settings.get("tracking_uri"),
                                   follow_alias=settings.get("follow_alias", False),
                                   follow_seconds=settings.get("follow_seconds", FOLLOW_SECONDS),
                                   loaded=ServedDetector(*detector))
        return create_anomaly_app(detecting, token=settings.get("token"),
                                  log_path=settings.get("log_path", "predictions.db"),
                                  max_body=settings.get("max_body", MAX_BODY),
                                  max_rows=settings.get("max_batch", MAX_BATCH))
    forecaster = load_forecaster(reference, settings.get("tracking_uri"))
    if forecaster is not None:
        service = ForecastService(reference, tracking_uri=settings.get("tracking_uri"),
                                  follow_alias=settings.get("follow_alias", False),
                                  follow_seconds=settings.get("follow_seconds", FOLLOW_SECONDS),
                                  loaded=ServedForecaster(*forecaster))
        return create_forecast_app(service, token=settings.get("token"),
                                   log_path=settings.get("log_path", "predictions.db"))
    return create_app(Service(reference, **settings))

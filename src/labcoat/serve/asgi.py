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
    tracking_uri = settings.get("tracking_uri")
    log_path = settings.get("log_path", "predictions.db")

    def followed(service: Any, loaded: Any) -> Any:
        """The task's service of ``reference``, following its alias when asked."""
        return service(reference, tracking_uri=tracking_uri, follow_alias=settings.get("follow_alias", False),
                       follow_seconds=settings.get("follow_seconds", FOLLOW_SECONDS), loaded=loaded)

    recommender = load_own(reference, "recommend", tracking_uri)
    if recommender is not None:
        from labcoat.serve.recommend_app import RecommendService, ServedRecommender, create_recommend_app

        return create_recommend_app(followed(RecommendService, ServedRecommender(*recommender)),
                                    token=settings.get("token"), explore=explore, log_path=log_path)
    matcher = load_own(reference, "match", tracking_uri)
    if matcher is not None:
        from labcoat.serve.match_app import MAX_RECORDS, MatchService, ServedMatcher, create_match_app

        return create_match_app(followed(MatchService, ServedMatcher(*matcher)), token=settings.get("token"),
                                log_path=log_path, max_records=settings.get("max_batch", MAX_RECORDS))
    segmenter = load_own(reference, "segment", tracking_uri)
    if segmenter is not None:
        from labcoat.serve.segment_app import MAX_ROWS, SegmentService, ServedSegmenter, create_segment_app

        return create_segment_app(followed(SegmentService, ServedSegmenter(*segmenter)), token=settings.get("token"),
                                  log_path=log_path, max_rows=settings.get("max_batch", MAX_ROWS))
    detector = load_own(reference, "anomaly", tracking_uri)
    if detector is not None:
        from labcoat.serve.anomaly_app import AnomalyService, ServedDetector, create_anomaly_app
        from labcoat.serve.service import MAX_BATCH, MAX_BODY

        return create_anomaly_app(followed(AnomalyService, ServedDetector(*detector)), token=settings.get("token"),
                                  log_path=log_path, max_body=settings.get("max_body", MAX_BODY),
                                  max_rows=settings.get("max_batch", MAX_BATCH))
    extractor = load_own(reference, "extract", tracking_uri)
    if extractor is not None:
        from labcoat.serve.extract_app import MAX_TEXTS, ExtractService, ServedExtractor, create_extract_app
        from labcoat.serve.service import MAX_BODY

        return create_extract_app(followed(ExtractService, ServedExtractor(*extractor)), token=settings.get("token"),
                                  log_path=log_path, max_body=settings.get("max_body", MAX_BODY),
                                  max_texts=settings.get("max_batch", MAX_TEXTS))
    forecaster = load_forecaster(reference, tracking_uri)
    if forecaster is not None:
        return create_forecast_app(followed(ForecastService, ServedForecaster(*forecaster)),
                                   token=settings.get("token"), log_path=log_path)
    return create_app(Service(reference, **settings))

"""Public functions besides ``fit``: loading and comparing models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from labcoat.errors import ModelFileError
from labcoat.model import Model
from labcoat.tasks import pipeline_task, saved_kind
from labcoat.tasks.forecast.model import ForecastModel
from labcoat.tasks.recommend.model import RecommendModel

if TYPE_CHECKING:
    from labcoat.data.io import DataSource

#: Prefixes of model URIs that live in the tracking store rather than on disk.
STORE_SCHEMES = ("runs:/", "models:/")


def load(path: str | Path, *, tracking_uri: str | None = None) -> Model | ForecastModel:
    """Load a model: a folder written by ``model.save`` or ``labcoat fit --out``, a run's
    model ``runs:/RUN_ID/model``, or a registered one ``models:/NAME/VERSION`` or
    ``models:/NAME@ALIAS`` (from ``tracking_uri``, default as in :func:`labcoat.fit`). A
    registered model's files must match the SHA-256 recorded at registration, else it is not
    loaded (:class:`~labcoat.errors.ModelFileError`). A model of a task with a pipeline of its
    own loads as that task's model (a forecast as a
    :class:`~labcoat.tasks.forecast.model.ForecastModel`).

    Examples
    --------
    >>> import labcoat                                   # doctest: +SKIP
    >>> model = labcoat.load("models/churn")              # doctest: +SKIP
    >>> champion = labcoat.load("models:/churn@champion")  # doctest: +SKIP
    """
    return load_described(path, tracking_uri=tracking_uri)[0]


def load_described(path: str | Path, *, tracking_uri: str | None = None) -> tuple[Any, dict[str, Any] | None]:
    """:func:`load`, with what the store says of a ``runs:/`` or ``models:/`` reference (name,
    version, SHA-256, ``pinned``; None for a folder). The reference is resolved once: a moving
    alias names the version that is loaded, never the one it points to a moment later.

    Examples
    --------
    >>> model, described = load_described("models:/churn@champion")  # doctest: +SKIP
    >>> described["version"]                                          # doctest: +SKIP
    '3'
    """
    folder = Path(path)
    described: dict[str, Any] | None = None
    if isinstance(path, str) and path.startswith(STORE_SCHEMES):
        from labcoat.tracking.integrity import verify
        from labcoat.tracking.registry import describe_reference
        from labcoat.tracking.runs import download_model

        described = describe_reference(path, tracking_uri)
        folder = download_model(described["pinned"], tracking_uri)
        verify(folder, described["sha256"], path)  # before anything in it is unpickled
    own = saved_kind(folder)
    return (own.load(folder) if own is not None else Model.load(folder)), described


def load_tabular(path: str | Path, *, tracking_uri: str | None = None) -> Model:
    """:func:`load` for what only a row model does (predict, explain, monitor, serve, retrain):
    a forecast or recommendation model is refused, naming the command that takes it."""
    return row_model(load(path, tracking_uri=tracking_uri), path)


def row_model(model: Any, path: str | Path) -> Model:
    """``model`` when it is a row model, else the error naming the command that takes it."""
    if not isinstance(model, Model):
        own = pipeline_task(getattr(model, "task", None))
        command = own.command if own else "info"
        raise ModelFileError(f"'{path}' holds a {own.name if own else 'different'} model: use `labcoat {command} "
                             f"{path}` (model.{command}() in Python); this command takes row models.")
    return model


def load_forecaster(reference: str, tracking_uri: str | None = None) -> tuple[ForecastModel, str, str] | None:
    """The forecast model at ``reference`` (a folder, ``runs:/`` or ``models:/`` URI) with its
    name and version, or None when it holds another kind of model."""
    return load_own(reference, "forecast", tracking_uri)


def load_own(reference: str, kind: str, tracking_uri: str | None = None) -> tuple[Any, str, str] | None:
    """The model of task ``kind`` (``"forecast"``, ``"recommend"``) at ``reference`` (a folder,
    ``runs:/`` or ``models:/`` URI) with its name and version ("local" for a folder), or None
    when it holds another kind of model."""
    if not reference.startswith(STORE_SCHEMES):
        own = saved_kind(reference)
        if own is None or own.name != kind:
            return None
        return own.load(reference), Path(reference).resolve().name, "local"
    model, described = load_described(reference, tracking_uri=tracking_uri)
    if getattr(model, "task", None) != kind or described is None:
        return None
    return model, str(described["name"]), str(described["version"])


def compare(*items: Model | ForecastModel | RecommendModel | str | Path | int, data: DataSource | None = None, seed: int = 0,
            tracking_uri: str | None = None) -> list[dict[str, Any]]:
    """Paired tests on the same folds, with Holm-adjusted p-values and a verdict in words.

    - ``compare(model_a, model_b, ...)``: separately fitted models (objects, folders, ``runs:/``
      or ``models:/`` URIs); with ``data`` each is trained and scored again on the same folds
      of it, without it they must share their training rows and folds
      (:func:`labcoat.search.crossfit.compare_models`);
    - ``compare(model, "lightgbm", "linear", 3)``: families or trial numbers of one model's
      search (:func:`labcoat.evaluate.compare.compare_trials`); a forecaster's candidates
      (paired over series) or a recommender's (``"chosen"``, ``"ease"``...: paired over users).

    Examples
    --------
    >>> import labcoat                                                       # doctest: +SKIP
    >>> labcoat.compare("models:/churn/1", "models:/churn/2", data="recent.csv")[0]["verdict"]  # doctest: +SKIP
    'models:/churn/2 is better than models:/churn/1 by 0.011 roc_auc [0.003, 0.019], p = 0.01.'
    """
    from labcoat.evaluate.compare import compare_trials
    from labcoat.search.crossfit import compare_models

    if len(items) < 2:
        from labcoat.errors import ConfigError

        raise ConfigError("Give at least two models, or a model and two of its families or trials.")
    if not all(isinstance(i, (Model, ForecastModel)) or is_model_reference(i) for i in items):
        first = load(items[0], tracking_uri=tracking_uri) if isinstance(items[0], (str, Path)) else items[0]
        if isinstance(first, ForecastModel):
            from labcoat.tasks.forecast.compare import compare_candidates

            return compare_candidates(first, *(str(i) for i in items[1:]))
        if isinstance(first, RecommendModel):
            from labcoat.tasks.recommend.compare import compare_recommenders

            return compare_recommenders(first, *(str(i) for i in items[1:]))
        if not isinstance(first, Model):
            from labcoat.errors import ConfigError

            raise ConfigError(f"Compare what? {items[0]!r} is not a model; give models, or a model and two of "
                              "its families or trials.")
        return compare_trials(first, *cast("tuple[str | int, ...]", items[1:]))
    models = [i if isinstance(i, Model) else load_tabular(cast("str | Path", i), tracking_uri=tracking_uri)
              for i in items]
    names = [f"model {n + 1}" if isinstance(i, Model) else str(i) for n, i in enumerate(items)]
    return compare_models(*models, names=names, data=data, seed=seed)


def is_model_reference(item: Any) -> bool:
    """A saved model's folder or a tracking-store model URI (not a family name or trial number)."""
    if isinstance(item, str) and item.startswith(STORE_SCHEMES):
        return True
    return isinstance(item, (str, Path)) and Path(item).is_dir()

"""Where runs and models are recorded: the embedded SQLite store or any MLflow server.

Resolution order: an explicit URI, then ``MLFLOW_TRACKING_URI``, then the embedded store
``.labcoat/mlflow.db`` in the working directory (artifacts in ``.labcoat/artifacts``), made on
first use. The SQLite file is switched to WAL journaling and opened with a busy timeout, so two
``fit`` commands on one store both complete (MLflow's own history: 'database is locked'
failures under concurrent writers without WAL, none with it).

Examples
--------
>>> resolve_uri("http://127.0.0.1:5000")
'http://127.0.0.1:5000'
"""
from __future__ import annotations

import os
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

from labcoat.artifact import quiet_mlflow  # defined with the model format, MLflow's first user
from labcoat.errors import TrackingError

#: The embedded store's folder, in the working directory.
HOME = ".labcoat"
#: Seconds a writer waits for a SQLite lock before failing.
BUSY_TIMEOUT = 60
EXPERIMENT = "labcoat"


def resolve_uri(uri: str | None = None) -> str:
    """The tracking URI to use (see the module docstring for the order)."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    home = Path.cwd() / HOME
    return f"sqlite:///{home / 'mlflow.db'}?timeout={BUSY_TIMEOUT}"


def artifact_root(uri: str) -> str | None:
    """Artifact location for new experiments of an embedded store (beside its database)."""
    path = sqlite_path(uri)
    return (path.parent / "artifacts").as_uri() if path is not None else None


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else ``None``."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):].split("?", 1)[0])


_PREPARED: set[str] = set()


def prepare(uri: str) -> None:
    """Make the store usable before any work starts, or raise :class:`TrackingError`.

    A SQLite store is created if missing, set to WAL and given MLflow's tables, under a file
    lock (two processes creating the tables at once break MLflow's schema migration); a server
    must answer within 5 s.
    """
    if uri in _PREPARED:
        return
    path = sqlite_path(uri)
    if path is not None:
        import fcntl

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path.with_name(path.name + ".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                with sqlite3.connect(path, timeout=BUSY_TIMEOUT) as connection:
                    connection.execute("PRAGMA journal_mode=WAL")
                from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

                with quiet_mlflow():
                    SqlAlchemyStore(uri, artifact_root(uri))  # creates the tables if missing
        except (OSError, sqlite3.Error) as error:
            raise TrackingError(f"Cannot open the tracking store '{path}': {error}. Check the folder "
                                "is writable, or point --tracking-uri elsewhere.") from None
        _PREPARED.add(uri)
        return
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as response:
                response.read()
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise TrackingError(f"The tracking server {uri} does not answer ({reason}). Start it, fix "
                                "--tracking-uri / MLFLOW_TRACKING_URI, or pass --no-track.") from None
        _PREPARED.add(uri)
        return
    from mlflow.tracking import MlflowClient

    try:  # any other store: MLflow may refuse it (its file store is in maintenance mode in recent MLflow)
        with quiet_mlflow():
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as error:  # noqa: BLE001 - whatever MLflow raises, the user gets one clear line
        raise TrackingError(f"MLflow cannot use the tracking store '{uri}': {error} With labcoat, use a "
                            "SQLite file (--tracking-uri sqlite:///PATH/mlflow.db), a server "
                            "(http://HOST:PORT), or pass --no-track.") from None
    _PREPARED.add(uri)


def client(uri: str | None = None) -> MlflowClient:
    """An ``MlflowClient`` on the resolved store, prepared (see :func:`prepare`)."""
    from mlflow.tracking import MlflowClient

    # labcoat prints its own run line; MLflow would print links to stdout, into --json output.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    uri = resolve_uri(uri)
    prepare(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(mlflow_client: MlflowClient, name: str = EXPERIMENT) -> str:
    """The id of experiment ``name``, created on first use (two creators may race: both win)."""
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return mlflow_client.create_experiment(name, artifact_location=artifact_root(
            mlflow_client.tracking_uri))
    except Exception:  # created meanwhile by a concurrent fit
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id

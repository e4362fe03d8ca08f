"""Registered models: versions of a name, and the aliases ``champion`` and ``challenger``.

Every promotion of ``champion`` is remembered in the registered model's tag
``labcoat.champion_history``, so ``rollback`` can put back the version that served before.

Examples
--------
>>> register("runs:/0a1b2c/model", "churn")          # doctest: +SKIP
'1'
>>> promote("churn", "1", alias="champion")          # doctest: +SKIP
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel
    from mlflow.tracking import MlflowClient

from labcoat.errors import RegistryError
from labcoat.tracking import store

ALIASES = ("champion", "challenger")
HISTORY_TAG = "labcoat.champion_history"


def register(source: str, name: str, uri: str | None = None) -> str:
    """Register the model of a run (``RUN_ID`` or ``runs:/RUN_ID/model``) as a new version of
    ``name``; returns the version number."""
    client = store.client(uri)
    run_id = source.split("/")[1] if source.startswith("runs:/") else source
    try:
        client.get_run(run_id)
    except Exception:
        raise RegistryError(f"No run '{run_id}' in {client.tracking_uri}; `labcoat runs list` shows "
                            "the runs.") from None
    _ensure_name(client, name)
    from labcoat.tracking.integrity import TAG, model_digest
    from labcoat.tracking.runs import download_model

    digest = model_digest(download_model(f"runs:/{run_id}/model", uri))
    with store.quiet_mlflow():
        version = client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id,
                                              tags={TAG: digest})
    return str(version.version)


def promote(name: str, version: str, alias: str = "champion", uri: str | None = None) -> None:
    """Point ``alias`` at ``version`` of ``name`` (the previous champion is remembered)."""
    if alias not in ALIASES:
        raise RegistryError(f"Unknown alias '{alias}'; use one of {', '.join(ALIASES)}.")
    client = store.client(uri)
    _version(client, name, version)
    if alias == "champion":
        history = _history(client, name)
        current = _champion(client, name)
        if current is not None and (not history or history[-1] != current):
            history.append(current)  # set outside labcoat (MLflow's UI or API): rollback returns to it
        if not history or history[-1] != str(version):
            history.append(str(version))
        client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    client.set_registered_model_alias(name, alias, str(version))


def rollback(name: str, uri: str | None = None) -> str:
    """Move ``champion`` back to the version it pointed at before; returns that version."""
    client = store.client(uri)
    _model(client, name)
    history = _history(client, name)
    existing = {str(v.version) for v in client.search_model_versions(f"name = '{name}'")}  # ints from a SQL store
    while len(history) > 1:
        history.pop()
        if history[-1] in existing:
            client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
            client.set_registered_model_alias(name, "champion", history[-1])
            return history[-1]
    raise RegistryError(f"'{name}' has no earlier champion to roll back to; promote a version "
                        "with `labcoat models promote`.")


def delete(name: str, version: str, force: bool = False, uri: str | None = None) -> None:
    """Delete one version; the current champion only with ``force``."""
    client = store.client(uri)
    found = _version(client, name, version)
    if "champion" in (found.aliases or []) and not force:
        raise RegistryError(f"Version {version} of '{name}' is the champion; promote another version "
                            "first, or pass --force.")
    client.delete_model_version(name, str(version))


def list_models(uri: str | None = None) -> list[dict[str, Any]]:
    """Every registered model: name, latest version, aliases, last update."""
    client = store.client(uri)
    rows = []
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name = '{model.name}'")
        rows.append({"name": model.name, "versions": len(versions),
                     "latest": max((int(v.version) for v in versions), default=None),
                     "aliases": dict(model.aliases or {}),
                     "updated": model.last_updated_timestamp})
    return rows


def show(name: str, version: str | None = None, uri: str | None = None) -> dict[str, Any]:
    """A registered model and its versions, or one version of it."""
    client = store.client(uri)
    model = _model(client, name)
    if version is not None:
        return _describe(_version(client, name, version))
    versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
    return {"name": name, "aliases": dict(model.aliases or {}),
            "champion_history": _history(client, name),
            "versions": [_describe(v) for v in versions]}


def resolve(uri_or_name: str, uri: str | None = None) -> str:
    """``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` as the run artifact URI it points at."""
    source = _lookup(uri_or_name, uri).source
    if source is None:  # MLflow allows it; versions registered from a run always have one
        raise RegistryError(f"'{uri_or_name}' has no source to load the model from.")
    return source


def describe_reference(reference: str, uri: str | None = None) -> dict[str, Any]:
    """Name, version, recorded SHA-256 (None before labcoat recorded it) and ``pinned``
    reference (``models:/NAME/VERSION``, an alias resolved) of a ``models:/`` reference; a
    ``runs:/RUN_ID/model`` reference has the run id as name and no digest. Load by ``pinned``,
    not by the alias: an alias moving between the look-up and the download cannot then pair
    one version's label with another's model."""
    if reference.startswith("runs:/"):
        return {"name": reference.split("/")[1], "version": "run", "sha256": None, "pinned": reference}
    from labcoat.tracking.integrity import TAG

    found = _lookup(reference, uri)
    return {"name": found.name, "version": str(found.version), "sha256": (found.tags or {}).get(TAG),
            "pinned": f"models:/{found.name}/{found.version}"}


def _lookup(uri_or_name: str, uri: str | None) -> ModelVersion:
    client = store.client(uri)
    spec = uri_or_name[len("models:/"):]
    if "@" in spec:
        name, alias = spec.split("@", 1)
        try:
            found = client.get_model_version_by_alias(name, alias)
        except Exception:
            raise RegistryError(f"'{name}' has no version with alias '{alias}'; see "
                                f"`labcoat models show {name}`.") from None
    else:
        name, _, version = spec.partition("/")
        found = _version(client, name, version)
    return found


def _describe(version: ModelVersion) -> dict[str, Any]:
    return {"name": version.name, "version": str(version.version), "aliases": list(version.aliases or []),
            "run_id": version.run_id, "source": version.source, "created": version.creation_timestamp}


def _ensure_name(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except Exception:
        try:
            client.create_registered_model(name)
        except Exception:  # created meanwhile
            client.get_registered_model(name)


def _model(client: MlflowClient, name: str) -> RegisteredModel:
    try:
        return client.get_registered_model(name)
    except Exception:
        names = [m.name for m in client.search_registered_models()]
        from labcoat.errors import did_you_mean

        raise RegistryError(f"No registered model '{name}'.{did_you_mean(name, names)} "
                            "`labcoat models list` shows them.") from None


def _version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    _model(client, name)
    try:
        return client.get_model_version(name, str(version))
    except Exception:
        raise RegistryError(f"'{name}' has no version {version}; `labcoat models show {name}` lists "
                            "its versions.") from None


def _champion(client: MlflowClient, name: str) -> str | None:
    aliases = dict(client.get_registered_model(name).aliases or {})
    return None if aliases.get("champion") is None else str(aliases["champion"])


def _history(client: MlflowClient, name: str) -> list[str]:
    tags = client.get_registered_model(name).tags or {}
    return list(json.loads(tags.get(HISTORY_TAG, "[]")))

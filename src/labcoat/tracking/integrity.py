"""A model's SHA-256, recorded when it is registered and checked before it is loaded, so that
a model file changed after registration is never unpickled.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "model.joblib").write_bytes(b"weights")
>>> digest = model_digest(folder)
>>> verify(folder, digest, "models:/m/1")  # silent when it matches
>>> _ = (folder / "model.joblib").write_bytes(b"tampered")
>>> verify(folder, digest, "models:/m/1")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
labcoat.errors.ModelFileError: Refusing to load models:/m/1: its files' SHA-256 is ...
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from labcoat.artifact import native_dir
from labcoat.errors import ModelFileError

#: Model-version tag holding the digest.
TAG = "labcoat.sha256"


def model_digest(folder: str | Path) -> str:
    """SHA-256 over every file of a model folder (relative paths and contents, in sorted order)."""
    root = native_dir(Path(folder))
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def verify(folder: str | Path, expected: str | None, reference: str) -> None:
    """Raise :class:`ModelFileError` unless ``folder``'s digest is ``expected``."""
    if expected is None:
        return
    actual = model_digest(folder)
    if actual != expected:
        raise ModelFileError(
            f"Refusing to load {reference}: its files' SHA-256 is {actual[:16]}..., but {expected[:16]}... was "
            "recorded when it was registered. The model was changed after registration; register it again "
            "from a trusted run.")

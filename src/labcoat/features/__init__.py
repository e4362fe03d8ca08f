"""Preprocessing built from a :class:`~labcoat.data.schema.Schema`."""

from labcoat.features.build import STYLES, build_preprocessor

__all__ = ["STYLES", "build_preprocessor"]

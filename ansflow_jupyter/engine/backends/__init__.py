"""Where steps run: `LocalBackend` (processes here), `DaskBackend` (a Dask cluster)."""

from .local import LocalBackend

__all__ = ["LocalBackend"]

"""One Settings object for every front door: the CLI (flags over `ANSFLOW_*` variables),
embedded kernel mode (`ANSFLOW_*` variables) and the server extension (whose traitlets
`c.AnsFlowApp.*` fill it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from .errors import BadRequest

if TYPE_CHECKING:
    from .engine.backend import Backend
    from .service import ExecutionManager
    from .store import Store

BACKENDS = ("local", "dask")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be more than 0")
    return value


def _backend(raw: str) -> str:
    if raw not in BACKENDS:
        raise ValueError(f"must be one of {', '.join(BACKENDS)}")
    return raw


_PARSERS: dict[str, Callable[[str], Any]] = {
    "db_url": str,
    "max_parallel": _positive_int,
    "backend": _backend,
    "dask_address": str,
    "retention_days": float,
    "max_executions": _positive_int,
    "log_line_max_bytes": _positive_int,
    "kill_grace": float,
    "owner_heartbeat": _positive_float,
    "owner_timeout": _positive_float,
    "artifact_url": str,
    "artifact_max_bytes": _positive_int,
    "cache_max_bytes": _positive_int,
}


@dataclass(frozen=True)
class Settings:
    """What a manager outside the server is built from."""

    db_url: str | None = None  # None: $ANSFLOW_DB_URL, else the server extension's SQLite file
    max_parallel: int | None = None
    backend: str = "local"
    dask_address: str | None = None  # None with backend "dask": a LocalCluster
    retention_days: float | None = None
    max_executions: int | None = None
    log_line_max_bytes: int = 65_536
    kill_grace: float = 5.0
    # Owners move their runs' heartbeat this often; a run whose owner has not beaten for
    # owner_timeout seconds is marked interrupted by any process on the store. Every
    # process on one store needs owner_timeout well above the others' heartbeat.
    owner_heartbeat: float = 3.0
    owner_timeout: float = 10.0
    artifact_url: str | None = None  # None: `artifacts/` beside the SQLite file
    artifact_max_bytes: int = 5 * 1024**3  # per execution
    cache_max_bytes: int = 10 * 1024**3

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **flags: Any) -> Settings:
        """`ANSFLOW_<NAME>` variables, overridden by flags that are not None."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"ANSFLOW_{f.name.upper()}")
            if raw:
                try:
                    values[f.name] = _PARSERS[f.name](raw)
                except ValueError as exc:
                    raise BadRequest(f"ANSFLOW_{f.name.upper()}={raw!r}: {exc}") from exc
        values.update({k: v for k, v in flags.items() if v is not None})
        return replace(cls(), **values)

    def make_backend(self) -> Backend:
        """The backend these settings name."""
        if self.backend == "dask":
            from .engine.backends.dask import DaskBackend

            return DaskBackend(self.dask_address)
        from .engine.backends.local import LocalBackend

        return LocalBackend()

    def make_manager(
        self,
        *,
        store: Store | None = None,
        backend: Backend | None = None,
        manager_class: type[ExecutionManager] | None = None,
    ) -> ExecutionManager:
        """A manager on the configured store and backend (call `start_up()` next); the
        server hands in its own store, backend and manager classes."""
        from .service import ExecutionManager
        from .store import Store, resolve_db_url

        return (manager_class or ExecutionManager)(
            store if store is not None else Store(resolve_db_url(self.db_url)),
            backend if backend is not None else self.make_backend(),
            **self.manager_options(),
        )

    def manager_options(self) -> dict[str, Any]:
        """The ExecutionManager keyword arguments these settings give."""
        return {
            "max_parallel": self.max_parallel,
            "log_line_max_bytes": self.log_line_max_bytes,
            "retention_days": self.retention_days,
            "max_executions": self.max_executions,
            "kill_grace": self.kill_grace,
            "owner_heartbeat": self.owner_heartbeat,
            "owner_timeout": self.owner_timeout,
            "artifact_url": self.artifact_url,
            "artifact_max_bytes": self.artifact_max_bytes,
            "cache_max_bytes": self.cache_max_bytes,
        }


def env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """Parse `KEY=VALUE` strings (`--env`); BadRequest for a malformed one."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadRequest(f"--env expects KEY=VALUE, got {pair!r}")
        out[key] = value
    return out

"""AnsFlowApp: wires configuration, owns the ExecutionManager's lifecycle, registers handlers."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Coroutine
from dataclasses import fields
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Enum, Float, Int, Type, Unicode, default

from .. import __version__
from ..bus import SubscriberLagged
from ..errors import AnsFlowError
from ..events import Event, EventType
from ..settings import Settings
from . import artifacts_handlers, discovery, handlers, paths, ws
from .base import UNAVAILABLE

EVENT_SCHEMA = Path(__file__).with_name("execution_event.yaml")
EVENT_SCHEMA_ID = "https://events.ansflow.dev/execution/v1"
RETENTION_PERIOD = 24 * 3600.0


class AnsFlowApp(ExtensionApp):
    """The ansflow server extension: REST API, live WebSockets and the executor."""

    name = "ansflow"
    description = "Live CI/CD-style pipelines inside Jupyter"
    version = __version__
    load_other_extensions = True

    db_url = Unicode(
        help="SQLAlchemy URL of the store (default: ANSFLOW_DB_URL or a SQLite file in the "
        "Jupyter data dir, shared with the `ansflow` CLI)."
    ).tag(config=True)
    max_parallel = Int(
        None, allow_none=True, help="Steps running at once per execution (default: CPU count + 2)."
    ).tag(config=True)
    backend = Enum(["local", "dask"], "local", help="Where steps run.").tag(config=True)
    dask_address = Unicode(
        None, allow_none=True, help="Dask scheduler address (backend 'dask')."
    ).tag(config=True)
    retention_days = Float(
        None, allow_none=True, help="Delete finished executions older than this (checked daily)."
    ).tag(config=True)
    max_executions = Int(
        None, allow_none=True, help="Keep at most this many finished executions."
    ).tag(config=True)
    log_line_max_bytes = Int(65_536, help="Longer log lines are cut and marked.").tag(config=True)
    kill_grace = Float(5.0, help="Seconds between SIGTERM and SIGKILL of a step.").tag(config=True)
    owner_heartbeat = Float(
        3.0, help="Seconds between the heartbeats this server writes for the runs it owns."
    ).tag(config=True)
    owner_timeout = Float(
        10.0,
        help="A run whose owning process (this server, a CLI, a kernel) has not written a "
        "heartbeat for this long is marked interrupted.",
    ).tag(config=True)
    artifact_url = Unicode(
        None,
        allow_none=True,
        help="fsspec URL of the artifact store (default: ANSFLOW_ARTIFACT_URL or an "
        "`artifacts` folder beside the SQLite file).",
    ).tag(config=True)
    artifact_max_bytes = Int(
        5 * 1024**3, help="Artifact bytes one execution may store (more fails the step)."
    ).tag(config=True)
    cache_max_bytes = Int(
        10 * 1024**3, help="Size of the step cache; least recently used entries are evicted."
    ).tag(config=True)
    on_shutdown = Enum(
        ["cancel", "interrupt"],
        "cancel",
        help="At server stop: 'cancel' running executions (recorded as cancelled), or "
        "'interrupt' (kill their processes and record them as interrupted).",
    ).tag(config=True)
    ws_queue_events = Int(
        1_000, help="Unsent events buffered per WebSocket before the client is closed (4008)."
    ).tag(config=True)
    ws_send_buffer = Int(
        0,
        help="Kernel send buffer (SO_SNDBUF) of each ansflow WebSocket in bytes; 0 keeps the "
        "kernel's auto-tuning (up to net.ipv4.tcp_wmem). Smaller: a client that stops reading "
        "is noticed (and closed with 4008) sooner and holds less kernel memory.",
    ).tag(config=True)
    heartbeat_interval = Float(
        15.0, help="Seconds of silence before a WebSocket heartbeat (0 disables)."
    ).tag(config=True)
    store_class = Type(
        default_value="ansflow_jupyter.store.Store", klass=object, help="The Store class."
    ).tag(config=True)
    backend_class = Type(
        default_value="ansflow_jupyter.engine.backends.local.LocalBackend",
        klass=object,
        help="The Backend class for backend 'local'.",
    ).tag(config=True)
    manager_class = Type(
        default_value="ansflow_jupyter.service.ExecutionManager",
        klass=object,
        help="The ExecutionManager class.",
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        from ..store import resolve_db_url

        return str(resolve_db_url(None))

    def initialize_settings(self) -> None:
        """Create the manager (not started yet) and publish kernel discovery.

        A store that cannot be opened (read-only, newer schema, unreachable server) does
        not take the Jupyter server down: every ansflow route then answers 503 with the
        reason, and nothing is published for kernels."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = False
        self._secret = discovery.new_secret()
        self._previous_env: dict[str, str] | None = None
        self._sigint: Any = None  # the SIGINT handler we replaced (see _stop_on_sigint)
        self.manager: Any = None
        store_class: Any = self.store_class
        try:
            self.manager = self.ansflow_settings().make_manager(
                store=store_class(self.db_url),
                backend=self._make_backend(),
                manager_class=self.manager_class,  # type: ignore[arg-type]
            )
        except (AnsFlowError, RuntimeError) as exc:
            self.log.error("ansflow: unavailable: %s", exc)
            self.settings[UNAVAILABLE] = str(exc)
            return
        self._previous_env = discovery.publish(self.serverapp, self._secret)
        self.settings.update(
            ansflow_manager=self.manager,
            ansflow_kernel_secret=self._secret,
            ansflow_ws={
                "queue_events": self.ws_queue_events,
                "heartbeat_interval": self.heartbeat_interval,
                "send_buffer": self.ws_send_buffer,
            },
        )
        self._event_logger().register_event_schema(EVENT_SCHEMA)
        self.log.info("ansflow: store %s, backend %s", self.db_url.split("@")[-1], self.backend)

    def ansflow_settings(self) -> Settings:
        """The traitlets as the Settings object the CLI and embedded mode use too."""
        names = [f.name for f in fields(Settings)]
        return Settings(**{name: getattr(self, name) for name in names})

    def initialize_handlers(self) -> None:
        """REST and WebSocket routes (under base_url)."""
        # The REST list ends with the JSON 404 for every other api path: it goes last.
        self.handlers.extend(artifacts_handlers.default_handlers)
        self.handlers.extend(handlers.default_handlers)
        self.handlers.extend(ws.default_handlers)

    def _make_backend(self) -> Any:
        if self.backend == "local":
            backend_class: Any = self.backend_class
            return backend_class()
        try:
            import distributed  # noqa: F401  (fail at start, not at the first step)

            from ..engine.backends.dask import DaskBackend
        except ImportError as exc:
            raise RuntimeError(
                f"AnsFlowApp.backend = 'dask' is not available ({exc}); "
                "pip install 'ansflow-jupyter[dask]' or use backend = 'local'"
            ) from exc
        return DaskBackend(address=self.dask_address)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Recover the store, then start the tracked background tasks."""
        if self.manager is None:
            return  # unavailable: the routes answer 503
        # The port is final only now (port retries happen after extensions load).
        discovery.publish(serverapp, self._secret)
        paths.start_scanner()
        self._stop_on_sigint(serverapp)
        recovered = await self.manager.start_up()
        if recovered:
            self.log.warning("ansflow: marked %d executions interrupted", len(recovered))
        self._track(self._retention_loop())
        self._track(self._emit_lifecycle_events())

    def _stop_on_sigint(self, serverapp: Any) -> None:
        """Without a terminal, SIGINT stops the server as SIGTERM does."""
        # jupyter_server installs its Ctrl-C handler only when stdin is a terminal; else
        # Python's KeyboardInterrupt ends the loop and the process exits without stopping
        # any extension: step processes outlived the server and runs stayed "running".
        stop = getattr(serverapp, "_signal_stop", None)
        if (
            stop is None
            or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            return
        self._sigint = signal.signal(signal.SIGINT, stop)

    async def stop_extension(self) -> None:
        """Stop every execution: no step process outlives the server (runs once)."""
        if self._stopped:
            return
        self._stopped = True
        if self._sigint is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._sigint)  # e.g. pytest's, in-process servers
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self.manager is None:
            return
        paths.stop_scanner()
        await self.manager.shutdown(cancel_running=self.on_shutdown == "cancel")
        if self._previous_env is not None:
            discovery.withdraw(self._secret, self._previous_env)

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(RETENTION_PERIOD)
            try:
                await self.manager.apply_retention()
            except Exception:
                self.log.exception("ansflow: retention failed")

    async def _emit_lifecycle_events(self) -> None:
        """Emit `started` and `finished` jupyter_events from the manager's global updates."""
        started: set[str] = set()
        while True:
            with self.manager.bus.subscribe(None) as sub:
                try:
                    async for event in sub:
                        if event.type is EventType.EXECUTION_UPDATE:
                            self._lifecycle(event, started)
                except SubscriberLagged:
                    continue  # resubscribe; a missed update only costs one lifecycle event
                return

    def _lifecycle(self, event: Event, started: set[str]) -> None:
        execution_id, data = event.execution_id, event.data
        name = str(data.get("pipeline_name") or "")
        base = {"execution_id": execution_id, "pipeline_name": name}
        if execution_id not in started:
            started.add(execution_id)
            self._emit({"action": "started", **base})
        status = str(data.get("status") or "")
        if event.is_final:
            started.discard(execution_id)
            duration = data.get("duration")
            self._emit(
                {
                    "action": "finished",
                    **base,
                    "status": status,
                    "duration": float(duration) if duration is not None else None,
                }
            )

    def _event_logger(self) -> Any:
        assert self.serverapp is not None
        return self.serverapp.event_logger

    def _emit(self, data: dict[str, Any]) -> None:
        try:
            self._event_logger().emit(schema_id=EVENT_SCHEMA_ID, data=data)
        except Exception:
            self.log.exception("ansflow: could not emit %s event", data.get("action"))

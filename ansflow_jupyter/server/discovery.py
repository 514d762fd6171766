"""How the kernels this server launches find it again: environment variables and a scoped secret.

Kernels inherit the server's environment, so the extension publishes its URL, its pid and
a random per-process secret there. The secret is accepted only by ansflow handlers (the
`Authorization: ansflow-kernel <secret>` header), never written to disk, and dies with the
server. See docs/server.md for the security reasoning.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from typing import Any

from jupyter_server.auth.identity import User

ENV_URL = "ANSFLOW_SERVER_URL"
ENV_TOKEN = "ANSFLOW_SERVER_TOKEN"
ENV_PID = "ANSFLOW_SERVER_PID"
AUTH_SCHEME = "ansflow-kernel"
KERNEL_USER = User(username="ansflow-kernel", name="ansflow kernel", display_name="Kernel")
_LOCAL_IPS = frozenset({"", "0.0.0.0", "::", "localhost", "127.0.0.1", "::1"})


def new_secret() -> str:
    """A fresh random credential for this server process."""
    return secrets.token_urlsafe(32)


def server_url(serverapp: Any) -> str:
    """The URL a kernel on this machine uses to reach the server (with base_url)."""
    if getattr(serverapp, "sock", ""):
        return str(serverapp.connection_url)
    scheme = "https" if getattr(serverapp, "certfile", None) else "http"
    ip = str(serverapp.ip or "")
    host = "127.0.0.1" if ip in _LOCAL_IPS else (f"[{ip}]" if ":" in ip else ip)
    base_url = str(serverapp.base_url or "/")
    return f"{scheme}://{host}:{serverapp.port}{base_url}"


def publish(serverapp: Any, secret: str) -> dict[str, str]:
    """Set the discovery variables in this process's environment; returns the previous values."""
    values = {ENV_URL: server_url(serverapp), ENV_TOKEN: secret, ENV_PID: str(os.getpid())}
    previous = {k: os.environ.get(k, "") for k in values}
    os.environ.update(values)
    return previous


def withdraw(secret: str, previous: Mapping[str, str]) -> None:
    """Undo `publish` if our values are still the ones in the environment."""
    if os.environ.get(ENV_TOKEN) != secret:
        return
    for key, value in previous.items():
        if value:
            os.environ[key] = value
        else:
            os.environ.pop(key, None)


def is_kernel_request(authorization: str | None, secret: str | None) -> bool:
    """True when the Authorization header carries this server's kernel secret."""
    if not authorization or not secret:
        return False
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != AUTH_SCHEME:
        return False
    return hmac.compare_digest(value.strip().encode(), secret.encode())


class _KernelIdentity:
    """The server's identity provider, except that this request is the kernel's (token-like)."""

    def __init__(self, real: Any):
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def get_user(self, handler: Any) -> User:
        """The kernel user; the authorizer still decides what it may do."""
        return KERNEL_USER

    def is_token_authenticated(self, handler: Any) -> bool:
        """Like a token: no XSRF cookie or Origin check applies to a header credential."""
        return True

    def should_check_origin(self, handler: Any) -> bool:
        """A header credential cannot be sent cross-site by a browser."""
        return False


class KernelAuthMixin:
    """Put before a JupyterHandler: accepts the kernel secret header on ansflow routes only."""

    request: Any
    settings: dict[str, Any]

    @property
    def identity_provider(self) -> Any:
        """The server's provider, or the kernel identity for a request with the secret."""
        real = super().identity_provider  # type: ignore[misc]
        secret = self.settings.get("ansflow_kernel_secret")
        if is_kernel_request(self.request.headers.get("Authorization"), secret):
            return _KernelIdentity(real)
        return real

"""The domain exceptions every front door maps (HTTP in server/errors.py, exit codes in the CLI).

AnsFlowError
├── NotFound       unknown execution, step or file (404)
├── Conflict       e.g. deleting a running execution (409)
├── BadRequest     a malformed request (400; OutsideRoot, a path outside the root, is 403)
├── StoreError     the database cannot be used (503; a clear one-line message naming it)
└── Unavailable    steps cannot run: the backend is unreachable (503, exit 2)

SpecError (an invalid pipeline: 400, exit 2) is not an AnsFlowError: it is defined in
pipeline/, which imports nothing of ours, and re-exported here."""

from __future__ import annotations

from .pipeline.errors import SpecError, SpecIssue


class AnsFlowError(Exception):
    """Base of the errors a user can cause or fix."""


class NotFound(AnsFlowError):
    """Unknown execution, step or file."""


class Conflict(AnsFlowError):
    """The request clashes with the current state."""


class BadRequest(AnsFlowError):
    """The request itself is malformed."""


class StoreError(AnsFlowError):
    """The store cannot be opened or written (not writable, locked, corrupt, other version)."""


class Unavailable(AnsFlowError):
    """Steps cannot run now: the backend (e.g. a Dask scheduler) cannot be reached."""


__all__ = [
    "AnsFlowError",
    "BadRequest",
    "Conflict",
    "NotFound",
    "SpecError",
    "SpecIssue",
    "StoreError",
    "Unavailable",
]

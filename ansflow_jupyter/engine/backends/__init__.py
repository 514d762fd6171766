"""Where steps run: `LocalBackend` (processes here), `FakeBackend` (scripted, for tests)."""

from .fake import FakeBackend, FakeStep
from .local import LocalBackend

__all__ = ["FakeBackend", "FakeStep", "LocalBackend"]

"""The durable store: events, execution/step projections, logs, recovery and retention."""

from .db import default_db_url, resolve_db_url
from .models import SCHEMA_VERSION
from .recovery import Owner
from .store import Store

__all__ = ["SCHEMA_VERSION", "Owner", "Store", "default_db_url", "resolve_db_url"]

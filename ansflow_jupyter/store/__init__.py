"""The durable store: events, execution/step projections, logs, recovery and retention.

    store = Store(resolve_db_url(explicit))   # SQLite (default file) or PostgreSQL

Layout (one concept per module): `models` the tables, `db` opening/URLs/errors,
`projection` append + folding, `codec` how event data is stored, `logs` log reads,
`queries` list/stats/retention, `recovery` owners and leftovers, `store` the API.

Choices worth knowing:
- Events are the truth; `executions`/`steps` are projections folded exactly like
  `events.SnapshotBuilder` (a new attempt's row starts as a copy of the previous one), so
  `Store.snapshot()` equals the events folded in memory.
- A `log_update` event is one row: the events table is the log store. Its per-line
  timestamps are packed float64 (`codec.py`), the lines stay JSON.
- `log_lines(step=S)`: `offset` is S's line number; `log_lines()` (all steps, time
  order): `offset` is a position in that merged stream. `tail`/`limit` apply after `q`.
- Recovery judges only owners on this host (pid + psutil create_time); executions owned
  by another host are left for that host to recover.
"""

from .db import default_db_url, resolve_db_url
from .models import SCHEMA_VERSION
from .recovery import Owner
from .store import Store

__all__ = ["SCHEMA_VERSION", "Owner", "Store", "default_db_url", "resolve_db_url"]

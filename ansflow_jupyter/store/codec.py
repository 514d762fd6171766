"""How an event's data is stored: JSON text, except the per-line timestamps of a log batch.

`repr()` of a million floats costs more than all the rest of appending a million lines, so
`log_update` timestamps go into a BLOB of packed little-endian float64 (exact, no repr)
while the lines stay in the JSON payload. Decoding restores the very same `data` dict.
"""

from __future__ import annotations

import json
import sys
import threading
from array import array
from typing import Any

_BIG_ENDIAN = sys.byteorder == "big"
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_loads = json.loads

#: The payloads of the last log batches encoded, by the identity of their `data` dict: the
#: CLI's `--json` view prints the same batch right after the store wrote it, and encoding a
#: batch's lines once instead of twice is a tenth of that view's cost for a big log.
_RECENT: dict[int, tuple[dict[str, Any], str]] = {}
_RECENT_MAX = 16
_recent_lock = threading.Lock()


def encode(data: dict[str, Any], is_log: bool) -> tuple[str, bytes | None]:
    """(payload JSON, packed timestamps or None) for one event's data."""
    if is_log:
        stamps = data.get("ts")
        if isinstance(stamps, list):
            try:
                packed = array("d", stamps)
            except TypeError:  # not all numbers: keep them in the JSON as they are
                return _dumps(data), None
            if _BIG_ENDIAN:
                packed.byteswap()
            payload = _dumps({k: v for k, v in data.items() if k != "ts"})
            with _recent_lock:
                _RECENT[id(data)] = (data, payload)
                if len(_RECENT) > _RECENT_MAX:
                    del _RECENT[next(iter(_RECENT))]
            return payload, packed.tobytes()
    return _dumps(data), None


def encoded_log_payload(data: dict[str, Any]) -> str | None:
    """The compact JSON of a log batch's `data` without its `ts`, if the store encoded this
    very dict lately (None otherwise)."""
    entry = _RECENT.get(id(data))
    # The dict itself is kept in the entry, so its id cannot have been reused meanwhile.
    return entry[1] if entry is not None and entry[0] is data else None


def decode(payload: str, ts_blob: bytes | None) -> dict[str, Any]:
    """Inverse of `encode`."""
    data: dict[str, Any] = _loads(payload)
    if ts_blob is not None:
        data["ts"] = unpack_ts(ts_blob)
    return data


def unpack_ts(ts_blob: bytes) -> list[float]:
    """The timestamps of a log batch."""
    stamps = array("d")
    stamps.frombytes(ts_blob)
    if _BIG_ENDIAN:
        stamps.byteswap()
    return stamps.tolist()

"""How an event's data is stored: JSON text, except the per-line timestamps of a log batch.

`repr()` of a million floats costs more than all the rest of appending a million lines, so
`log_update` timestamps go into a BLOB of packed little-endian float64 (exact, no repr)
while the lines stay in the JSON payload. Decoding restores the very same `data` dict.
"""

from __future__ import annotations

import json
import sys
from array import array
from typing import Any

_BIG_ENDIAN = sys.byteorder == "big"
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_loads = json.loads


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
            return _dumps({k: v for k, v in data.items() if k != "ts"}), packed.tobytes()
    return _dumps(data), None


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

"""`ansflow artifacts ID [--download DIR]` and `ansflow cache list|clear`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .errors import BadRequest

EXIT_OK = 0


def add_data_commands(sub: Any, with_db: Callable[[Any], argparse.ArgumentParser]) -> None:
    """Register the `artifacts` and `cache` sub-commands."""
    arts = with_db(sub.add_parser("artifacts", help="the files an execution's steps collected"))
    arts.add_argument("id")
    arts.add_argument("--step", help="only this step")
    arts.add_argument("--json", action="store_true", help="one JSON object per line")
    arts.add_argument("--download", metavar="DIR", help="write the files to DIR/<step>/<path>")
    cache = with_db(sub.add_parser("cache", help="the step cache"))
    cache.add_argument("action", choices=("list", "clear"))
    cache.add_argument("--json", action="store_true", help="one JSON object per line")


async def cmd_data(manager: Any, args: argparse.Namespace) -> int:
    """Run `artifacts` or `cache`."""
    if args.command == "cache":
        if args.action == "clear":
            print(f"removed {await manager.clear_cache()} cache entries")
            return EXIT_OK
        entries = await manager.cache_entries()
        _print_rows(
            entries,
            args.json,
            ("pipeline", "step_id", "bytes", "used_at", "execution_id"),
        )
        return EXIT_OK
    rows = await manager.artifacts(args.id)
    if args.step:
        rows = [r for r in rows if r["step_id"] == args.step]
    if args.download:
        await asyncio.to_thread(download, manager, rows, args.download)
        print(f"{len(rows)} files written to {args.download}")
        return EXIT_OK
    _print_rows(rows, args.json, ("step_id", "path", "size", "media_type", "sha256"))
    return EXIT_OK


def download(manager: Any, rows: list[dict[str, Any]], folder: str) -> None:
    """Write each artifact to folder/<step>/<path> (paths stay inside folder)."""
    for row in rows:
        parts = [row["step_id"], *row["path"].split("/")]
        if any(p in ("", ".", "..") or os.sep in p for p in parts):
            raise BadRequest(f"refusing to write artifact path {row['path']!r}")
        dest = os.path.join(folder, *parts)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = f"{dest}.part"
        manager.data.blobs.materialize(row["sha256"], tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)


def _print_rows(rows: list[dict[str, Any]], as_json: bool, columns: tuple[str, ...]) -> None:
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    if not rows:
        print("(none)")
        return
    table = [columns] + [tuple(_cell(r.get(c), c) for c in columns) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
        sys.stdout.write("\n")


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if column in ("size", "bytes"):
        from .engine.stepdata import human_bytes

        return human_bytes(int(value))
    if column == "used_at":
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(value)))
    if column in ("sha256", "execution_id"):
        return str(value)[:12]
    return str(value)

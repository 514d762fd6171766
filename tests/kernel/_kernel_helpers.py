"""Small pipelines shared by the kernel tests."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

OK_PIPELINE = """\
name: tiny
steps:
  hello: {run: echo hello from tiny}
  after:
    needs: hello
    run: echo after hello
"""

FAILING_PIPELINE = """\
name: broken
steps:
  setup: {run: echo setting up}
  lint: {run: "echo tolerated; exit 1", continue-on-error: true}
  explode:
    needs: setup
    run: |
      for i in $(seq 1 30); do echo "line $i"; done
      echo "boom: something broke" >&2
      exit 3
"""

SLOW_PIPELINE = """\
name: slow
steps:
  nap: {run: sleep 60}
"""


def write(path: Path, text: str) -> Path:
    """Write a pipeline file and return its path."""
    path.write_text(text)
    return path


class FakeServer(BaseHTTPRequestHandler):
    """Answers like the server extension would; records what it received."""

    seen: list[dict[str, Any]] = []
    answers: dict[tuple[str, str], tuple[int, Any]] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        path = self.path.split("?")[0]
        self.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "body": body,
                "auth": self.headers["Authorization"],
            }
        )
        code, payload = self.answers.get((self.command, path), (404, {"message": "no such route"}))
        raw = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _answer  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass

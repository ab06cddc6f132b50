"""A stand-in for the comment endpoints of GitHub's and GitLab's REST APIs, on loopback.

No forge can run here. The paths, methods, pagination (`per_page`, `page`) and the `id`/`body` fields
follow GitHub's "issue comments" API (docs.github.com/rest/issues/comments) and GitLab's "merge request
notes" API (docs.gitlab.com/api/notes); only what `compiler.deploy.review_comment` uses is served.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ForgeState:
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    next_id: int = 1000

    def add(self, body: str) -> dict[str, Any]:
        self.next_id += 1
        comment = {"id": self.next_id, "body": body, "user": {"login": "someone"}}
        self.comments.append(comment)
        return comment


GITHUB_LIST = re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments")
GITHUB_EDIT = re.compile(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)")
GITLAB_NOTES = re.compile(r"/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes(?:/(\d+))?")


def _handler(state: ForgeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return dict(json.loads(self.rfile.read(length)))

        def _route(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            state.requests.append((method, url.path))
            state.auth.append(self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN") or "")
            query = urllib.parse.parse_qs(url.query)
            if (m := GITHUB_LIST.fullmatch(url.path) or GITLAB_NOTES.fullmatch(url.path)) and method == "GET":
                per_page, page = int(query["per_page"][0]), int(query["page"][0])
                self._send(200, state.comments[(page - 1) * per_page: page * per_page])
            elif (m := GITHUB_LIST.fullmatch(url.path) or GITLAB_NOTES.fullmatch(url.path)) and method == "POST":
                if m.re is GITLAB_NOTES and m.group(3):
                    self._send(404, {"message": "404 Not Found"})
                    return
                self._send(201, state.add(self._body()["body"]))
            elif ((m := GITHUB_EDIT.fullmatch(url.path)) and method == "PATCH") or (
                    (m := GITLAB_NOTES.fullmatch(url.path)) and m.group(3) and method == "PUT"):
                wanted = int(m.group(2) if m.re is GITHUB_EDIT else m.group(3))
                for comment in state.comments:
                    if comment["id"] == wanted:
                        comment["body"] = self._body()["body"]
                        self._send(200, comment)
                        return
                self._send(404, {"message": "Not Found"})
            else:
                self._send(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler


@contextmanager
def forge_stub() -> Iterator[tuple[str, ForgeState]]:
    state = ForgeState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()

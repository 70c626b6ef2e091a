"""Serve the built console at `/`; client routes fall back to index.html.

Paths under `/api/` never reach the console: an unknown API path keeps answering the
JSON 404 (or 405) of the API, never the console's HTML. The base path the console lives
under is decided at request time (the ASGI root path, e.g. uvicorn's --root-path behind a
proxy) and written into index.html's `<base href>`, so one build serves any prefix.
"""

import html
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "static" / "console"
BASE_MARKER = '<base href="/" />'
RESERVED_PREFIXES = ("api", "healthz", "readyz", "metrics")
IMMUTABLE = "public, max-age=31536000, immutable"


def base_path(scope: MutableMapping[str, Any]) -> str:
    """The URL path the app is served under, always ending in '/'."""
    root = str(scope.get("root_path", "")).rstrip("/")
    return f"{root}/"


def _route_path(scope: Scope) -> str:
    path = str(scope.get("path", "/"))
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    return path


class ConsoleRoute(Route):
    """A catch-all GET route that steps aside for the API and operational paths."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        first = _route_path(scope).lstrip("/").split("/", 1)[0]
        if first in RESERVED_PREFIXES:
            return Match.NONE, {}
        return super().matches(scope)


class Console:
    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()

    def _file(self, relative: str) -> Path | None:
        if not relative:
            return None
        candidate = (self.directory / relative).resolve()
        if not candidate.is_relative_to(self.directory) or not candidate.is_file():
            return None
        return candidate

    def _index(self, request: Request) -> Response:
        index = self.directory / "index.html"
        if not index.is_file():
            return HTMLResponse(
                "<!doctype html><title>Siyu</title><h1>The console is not built</h1>"
                "<p>Run <code>make console</code> in the source checkout, or install a "
                "release wheel, which ships it. The API is at "
                '<a href="api/v1/docs">api/v1/docs</a>.</p>',
                status_code=503,
            )
        page = index.read_text(encoding="utf-8")
        base = html.escape(base_path(request.scope), quote=True)
        page = page.replace(BASE_MARKER, f'<base href="{base}" />', 1)
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    async def serve(self, request: Request) -> Response:
        relative = request.path_params.get("path", "")
        found = self._file(relative)
        if found is None and relative.startswith("assets/"):
            return Response("asset not found", status_code=404, media_type="text/plain")
        if found is None:
            return self._index(request)
        headers = {"Cache-Control": IMMUTABLE if relative.startswith("assets/") else "no-cache"}
        return FileResponse(found, headers=headers)


def mount_console(app: FastAPI, directory: Path = CONSOLE_DIR) -> None:
    """Serve the console from `directory`; call after every other route is added."""
    console = Console(directory)
    app.router.routes.append(
        ConsoleRoute(
            "/{path:path}", console.serve, methods=["GET", "HEAD"], include_in_schema=False
        )
    )

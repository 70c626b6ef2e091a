"""Hatch build hook: ship the built console inside the wheel.

A wheel build rebuilds the console (`npm ci && npm run build` in ui/) when Node is
available and the console sources are newer than the build; the build output is a hatch
artifact (it is git-ignored). A wheel without a built console is refused: a release must
never silently lose its UI. Editable installs (`uv sync`) skip all of this; the source
checkout builds the console with `make console`.
"""

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCES = ("src", "public", "index.html", "package.json", "package-lock.json", "vite.config.ts")


def _newest(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            newest = max([newest, *(p.stat().st_mtime for p in path.rglob("*") if p.is_file())])
        elif path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


class ConsoleBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, _build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        root = Path(self.root)
        ui = root / "ui"
        index = root / "src" / "siyu" / "static" / "console" / "index.html"
        stale = not index.is_file() or (
            ui.is_dir() and _newest([ui / name for name in SOURCES]) > index.stat().st_mtime
        )
        npm = shutil.which("npm")
        if stale and ui.is_dir() and npm:
            self.app.display_info("building the console (npm ci && npm run build)")
            ci = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ui, check=False)  # noqa: S603
            if ci.returncode != 0:  # see the Makefile: npm 11.19 locks that its `npm ci` refuses
                subprocess.run([npm, "install", "--no-save"], cwd=ui, check=True)  # noqa: S603
            subprocess.run([npm, "run", "build"], cwd=ui, check=True)  # noqa: S603
        if not index.is_file():
            msg = (
                "the console is not built (src/siyu/static/console/index.html is missing) and "
                "it could not be built here: install Node.js 20+ and npm, or run "
                "`make console`, then build the wheel again"
            )
            raise RuntimeError(msg)
        if stale and not npm:
            self.app.display_warning("Node is not available: packaging the existing console build")

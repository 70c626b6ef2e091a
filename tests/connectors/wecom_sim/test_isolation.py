"""The simulator never runs inside the product: the app neither imports nor routes to it."""

import subprocess
import sys

from fastapi import FastAPI
from fastapi.routing import APIRoute


def test_the_app_and_the_cli_do_not_import_the_simulator() -> None:
    probe = (
        "import sys, siyu.app, siyu.api, siyu.cli.main; "
        "print('siyu.connectors.wecom_sim' in sys.modules)"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_no_app_route_is_a_simulator_route(app: FastAPI) -> None:
    paths = [r.path for r in app.routes if isinstance(r, APIRoute)]
    assert paths
    assert not [p for p in paths if p.startswith(("/cgi-bin", "/control", "/sim/"))]

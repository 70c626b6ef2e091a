import json
import subprocess
from pathlib import Path

from fastapi import FastAPI

from tests.console.prerequisites import OPENAPI_TYPESCRIPT, UI, require

CHECKED_IN = UI / "src" / "api" / "schema.d.ts"


def openapi_json(app: FastAPI, path: Path) -> None:
    schema = app.openapi()
    path.write_text(json.dumps(schema, ensure_ascii=False, indent=2), encoding="utf-8")


def test_checked_in_typescript_client_matches_the_openapi_schema(
    app: FastAPI, tmp_path: Path
) -> None:
    require(OPENAPI_TYPESCRIPT.exists(), "ui/node_modules", "make console")
    source = tmp_path / "openapi.json"
    generated = tmp_path / "schema.d.ts"
    openapi_json(app, source)
    subprocess.run(  # noqa: S603 - the project's own openapi-typescript
        [str(OPENAPI_TYPESCRIPT), str(source), "-o", str(generated)],
        cwd=UI,
        check=True,
        capture_output=True,
    )
    current = CHECKED_IN.read_text(encoding="utf-8") if CHECKED_IN.exists() else ""
    assert generated.read_text(encoding="utf-8") == current, (
        "ui/src/api/schema.d.ts is stale: the API changed; run `make api-client` and commit it"
    )

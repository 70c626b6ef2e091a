from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from siyu.console.serving import mount_console


@pytest.fixture
def built(tmp_path: Path) -> Path:
    root = tmp_path / "console"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(
        '<!doctype html><head><base href="/" /></head><div id="app"></div>', encoding="utf-8"
    )
    (root / "assets" / "index-abc123.js").write_text("console.log('siyu')", encoding="utf-8")
    (root / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not for the web", encoding="utf-8")
    return root


def _app(directory: Path) -> FastAPI:
    app = FastAPI()

    @app.get("/api/v1/things")
    def things() -> list[str]:
        return ["one"]

    mount_console(app, directory)
    return app


def test_client_routes_fall_back_to_index_html(built: Path) -> None:
    client = TestClient(_app(built))
    for path in ("/", "/customers", "/customers/42", "/sidebar?customer_id=7"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert '<div id="app">' in response.text
        assert response.headers["cache-control"] == "no-cache"


def test_base_href_follows_the_root_path_the_app_is_served_under(built: Path) -> None:
    client = TestClient(_app(built), root_path="/scrm")
    response = client.get("/scrm/customers")
    assert '<base href="/scrm/" />' in response.text


def test_built_files_are_served_and_hashed_assets_cached_for_good(built: Path) -> None:
    client = TestClient(_app(built))
    asset = client.get("/assets/index-abc123.js")
    assert asset.status_code == 200
    assert asset.text == "console.log('siyu')"
    assert "immutable" in asset.headers["cache-control"]
    assert client.get("/favicon.svg").headers["cache-control"] == "no-cache"


def test_missing_asset_is_a_404_not_the_index_page(built: Path) -> None:
    response = TestClient(_app(built)).get("/assets/index-old.js")
    assert response.status_code == 404
    assert "app" not in response.text


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_unknown_api_paths_answer_the_api_404(built: Path, method: str) -> None:
    client = TestClient(_app(built))
    response = client.request(method, "/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert client.get("/api/v1/things").json() == ["one"]


def test_files_outside_the_build_are_never_served(built: Path) -> None:
    client = TestClient(_app(built))
    response = client.get("/..%2Fsecret.txt")
    assert "not for the web" not in response.text


def test_missing_build_says_how_to_build_it(tmp_path: Path) -> None:
    response = TestClient(_app(tmp_path / "nothing")).get("/customers")
    assert response.status_code == 503
    assert "make console" in response.text


def test_app_keeps_json_404_for_unknown_api_paths_next_to_the_console(
    client: TestClient,
) -> None:
    for method in ("GET", "POST", "PUT"):
        response = client.request(method, "/api/v1/definitely-not-a-route")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert client.get("/healthz").json() == {"status": "ok"}

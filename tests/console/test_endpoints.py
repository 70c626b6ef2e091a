from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.app import create_app
from siyu.config import Mode, Settings
from siyu.demo import data as demo_data


def test_config_needs_no_sign_in_and_lists_the_api_capabilities(client: TestClient) -> None:
    response = client.get("/api/v1/config")
    assert response.status_code == 200
    body = response.json()
    assert body["base_path"] == "/"
    assert body["default_locale"] == "zh-CN"
    assert body["locales"] == ["zh-CN", "en"]
    assert {"customers", "tags", "commerce", "workspace"} <= set(body["features"])
    assert body["mode"] == "dev"
    assert body["version"]
    assert body["demo_login"] is None


def test_config_base_path_follows_the_root_path(engine: Engine, settings: Settings) -> None:
    app = create_app(settings, engine=engine, run_worker=False)
    with TestClient(app, root_path="/scrm") as client:
        assert client.get("/scrm/api/v1/config").json()["base_path"] == "/scrm/"


def test_config_offers_the_demo_sign_in_only_in_demo_mode(engine: Engine, tmp_path: Path) -> None:
    demo = Settings(mode=Mode.DEMO, data_dir=tmp_path, worker_in_process=False)
    with TestClient(create_app(demo, engine=engine, run_worker=False)) as client:
        login = client.get("/api/v1/config").json()["demo_login"]
    assert login == {"email": demo_data.LOGIN_EMAIL, "password": demo_data.LOGIN_PASSWORD}

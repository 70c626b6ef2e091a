from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Request

from siyu.config import Mode, Settings
from siyu.console.schemas import ConsoleConfig, DemoLogin
from siyu.console.serving import base_path
from siyu.demo import data as demo_data

router = APIRouter(tags=["console"])

DEFAULT_LOCALE = "zh-CN"
LOCALES = ["zh-CN", "en"]


def _version() -> str:
    try:
        return version("siyu")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def _features(request: Request) -> list[str]:
    schema: dict[str, Any] = request.app.openapi()
    tags = {
        str(tag)
        for operations in schema.get("paths", {}).values()
        for operation in operations.values()
        for tag in operation.get("tags", ())
    }
    return sorted(tags)


@router.get("/config", response_model=ConsoleConfig)
def console_config(request: Request) -> ConsoleConfig:
    """Runtime settings for the console; needs no sign-in."""
    settings: Settings = request.app.state.settings
    demo = settings.mode is Mode.DEMO
    return ConsoleConfig(
        base_path=base_path(request.scope),
        default_locale=DEFAULT_LOCALE,
        locales=LOCALES,
        features=_features(request),
        version=_version(),
        mode=settings.mode.value,
        demo_login=(
            DemoLogin(email=demo_data.LOGIN_EMAIL, password=demo_data.LOGIN_PASSWORD)
            if demo
            else None
        ),
    )

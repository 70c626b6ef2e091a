from pydantic import BaseModel, Field


class DemoLogin(BaseModel):
    email: str
    password: str


class ConsoleConfig(BaseModel):
    """What the console reads at start-up instead of build-time variables."""

    base_path: str = Field(description="URL path the console is served under, ending in '/'")
    default_locale: str = Field(description="locale used until the user picks one")
    locales: list[str]
    features: list[str] = Field(
        description="API capabilities this server offers (OpenAPI tags); the console shows "
        "only the pages whose capability is present"
    )
    version: str
    mode: str
    demo_login: DemoLogin | None = Field(
        default=None, description="the demo workspace's sign-in, only in demo mode"
    )

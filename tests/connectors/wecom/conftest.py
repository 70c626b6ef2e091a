"""The WeCom side of a connected workspace's callback settings, for the callback tests."""

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from siyu.connectors.wecom.callbacks import forget_cached_keys
from siyu.connectors.wecom.crypto import CallbackCrypto, signature
from tests.conftest import MakeWorkspace, WorkspaceFixture

_counter = itertools.count(1)


def event_xml(
    corp_id: str, event: str, change_type: str | None = None, **fields: str | int
) -> bytes:
    parts = [
        f"<ToUserName><![CDATA[{corp_id}]]></ToUserName>",
        "<FromUserName><![CDATA[sys]]></FromUserName>",
        "<CreateTime>1700000000</CreateTime>",
        "<MsgType><![CDATA[event]]></MsgType>",
        f"<Event><![CDATA[{event}]]></Event>",
    ]
    if change_type:
        parts.append(f"<ChangeType><![CDATA[{change_type}]]></ChangeType>")
    parts += [f"<{name}><![CDATA[{value}]]></{name}>" for name, value in fields.items()]
    return ("<xml>" + "".join(parts) + "</xml>").encode()


@dataclass
class Corp:
    """A connected workspace and the WeCom side of its callback settings."""

    workspace: WorkspaceFixture
    corp_id: str
    crypto: CallbackCrypto
    url: str

    def envelope(self, encrypted: str, to_user: str | None = None) -> bytes:
        to = self.corp_id if to_user is None else to_user
        return (
            f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
            f"<AgentID><![CDATA[1000002]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        ).encode()

    def signed_query(self, encrypted: str, token: str | None = None) -> dict[str, str]:
        timestamp, nonce = "1700000000", f"{next(_counter)}"
        sig = signature(token or self.crypto.token, timestamp, nonce, encrypted)
        return {"msg_signature": sig, "timestamp": timestamp, "nonce": nonce}

    def post(self, client: TestClient, message: bytes, **kwargs: Any) -> Any:
        encrypted = self.crypto.encrypt(message)
        return client.post(
            self.url,
            params=self.signed_query(encrypted),
            content=self.envelope(encrypted),
            **kwargs,
        )


ConnectCorp = Callable[..., Corp]


@pytest.fixture(autouse=True)
def _fresh_crypto_cache() -> None:
    forget_cached_keys()


@pytest.fixture
def connect_corp(client: TestClient, make_workspace: MakeWorkspace) -> ConnectCorp:
    def connect(corp_id: str | None = None) -> Corp:
        workspace = make_workspace()
        corp_id = corp_id or f"ww{next(_counter):04d}{workspace.slug[-6:]}"
        answer = client.put(
            "/api/v1/wecom/connection",
            json={"corp_id": corp_id, "contact_secret": "contact-secret-value"},
            headers=workspace.headers,
        )
        assert answer.status_code == 200, answer.text
        callback = answer.json()["callback"]
        crypto = CallbackCrypto(callback["token"], callback["encoding_aes_key"], corp_id)
        url = callback["url"].removeprefix("http://127.0.0.1:8000")
        return Corp(workspace, corp_id, crypto, url)

    return connect


@pytest.fixture
def corp(connect_corp: ConnectCorp) -> Corp:
    return connect_corp()

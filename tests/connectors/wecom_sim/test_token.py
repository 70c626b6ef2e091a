"""gettoken and the token lifecycle."""

import httpx

from siyu.connectors.wecom_sim import WecomSim


def gettoken(wecom_sim: WecomSim, secret: str) -> dict[str, object]:
    response = httpx.get(
        f"{wecom_sim.base_url}/cgi-bin/gettoken",
        params={"corpid": wecom_sim.corp_id, "corpsecret": secret},
    )
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def test_gettoken_issues_a_token_for_each_secret(wecom_sim: WecomSim) -> None:
    body = gettoken(wecom_sim, wecom_sim.contact_secret)
    assert body["errcode"] == 0
    assert body["errmsg"] == "ok"
    assert body["expires_in"] == 7200
    assert isinstance(body["access_token"], str)
    assert gettoken(wecom_sim, wecom_sim.directory_secret)["errcode"] == 0


def test_gettoken_rejects_bad_corp_and_secret(wecom_sim: WecomSim) -> None:
    url = f"{wecom_sim.base_url}/cgi-bin/gettoken"
    assert httpx.get(url).json()["errcode"] == 41002
    assert httpx.get(url, params={"corpid": "ww0000"}).json()["errcode"] == 40013
    assert httpx.get(url, params={"corpid": wecom_sim.corp_id}).json()["errcode"] == 41004
    wrong = httpx.get(url, params={"corpid": wecom_sim.corp_id, "corpsecret": "nope"})
    assert wrong.json()["errcode"] == 40001
    assert wrong.headers["error-code"] == "40001"
    assert (
        "more info at https://open.work.weixin.qq.com/devtool/query?e=40001"
        in (wrong.json()["errmsg"])
    )


def call(wecom_sim: WecomSim, token: str | None) -> int:
    params = {"access_token": token} if token is not None else {}
    response = httpx.get(
        f"{wecom_sim.base_url}/cgi-bin/externalcontact/get_follow_user_list", params=params
    )
    errcode: int = response.json()["errcode"]
    return errcode


def test_token_expires_after_its_ttl(wecom_sim: WecomSim) -> None:
    token = str(gettoken(wecom_sim, wecom_sim.contact_secret)["access_token"])
    assert call(wecom_sim, token) == 0
    wecom_sim.control.post("/clock/advance", json={"seconds": 7199}).raise_for_status()
    assert call(wecom_sim, token) == 0
    wecom_sim.control.post("/clock/advance", json={"seconds": 2}).raise_for_status()
    assert call(wecom_sim, token) == 42001


def test_unknown_and_missing_tokens(wecom_sim: WecomSim) -> None:
    assert call(wecom_sim, "not-a-token") == 40014
    assert call(wecom_sim, None) == 41001


def test_token_expiry_can_be_forced(wecom_sim: WecomSim) -> None:
    token = str(gettoken(wecom_sim, wecom_sim.contact_secret)["access_token"])
    wecom_sim.control.post("/faults", json={"expire_tokens": True}).raise_for_status()
    assert call(wecom_sim, token) == 42001
    fresh = str(gettoken(wecom_sim, wecom_sim.contact_secret)["access_token"])
    assert call(wecom_sim, fresh) == 0


def test_token_ttl_is_configurable(wecom_sim: WecomSim) -> None:
    wecom_sim.reset(token_ttl=60)
    assert gettoken(wecom_sim, wecom_sim.contact_secret)["expires_in"] == 60


def test_directory_secret_cannot_call_customer_contact_apis(wecom_sim: WecomSim) -> None:
    token = str(gettoken(wecom_sim, wecom_sim.directory_secret)["access_token"])
    assert call(wecom_sim, token) == 48002

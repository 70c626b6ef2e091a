"""Frequency limits and injected faults."""

import threading

import httpx

from siyu.connectors.wecom_sim import WecomSim
from tests.connectors.wecom_sim.conftest import Cgi

FOLLOW_USERS = "/externalcontact/get_follow_user_list"


def test_per_api_minute_limit_answers_45009(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(api_rate_per_minute={"externalcontact/get_follow_user_list": 3})
    codes = [cgi.get(FOLLOW_USERS)["errcode"] for _ in range(4)]
    assert codes == [0, 0, 0, 45009]
    assert cgi.get("/department/list")["errcode"] == 0  # other APIs count apart
    wecom_sim.control.post("/clock/advance", json={"seconds": 61}).raise_for_status()
    assert cgi.get(FOLLOW_USERS)["errcode"] == 0


def test_hour_limit(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(rate_per_hour=2)
    assert [cgi.get(FOLLOW_USERS)["errcode"] for _ in range(3)] == [0, 0, 45009]


def test_debug_calls_are_limited_to_5_a_minute(wecom_sim: WecomSim, cgi: Cgi) -> None:
    codes = [cgi.get(FOLLOW_USERS, debug=1)["errcode"] for _ in range(6)]
    assert codes == [0, 0, 0, 0, 0, 45009]
    assert cgi.get(FOLLOW_USERS)["errcode"] == 0


def test_a_45009_burst_fault(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.control.post(
        "/faults", json={"burst_45009": 2, "burst_path": "externalcontact/get_follow_user_list"}
    ).raise_for_status()
    assert cgi.get("/department/list")["errcode"] == 0
    codes = [cgi.get(FOLLOW_USERS)["errcode"] for _ in range(3)]
    assert codes == [45009, 45009, 0]
    limited = cgi.http.get(FOLLOW_USERS, params={"access_token": cgi.token})
    assert limited.json()["errcode"] == 0
    wecom_sim.control.post("/faults", json={"burst_45009": 1}).raise_for_status()
    response = cgi.http.get("/department/list", params={"access_token": cgi.token})
    assert response.json()["errcode"] == 45009
    assert response.headers["error-code"] == "45009"
    assert response.json()["errmsg"].startswith("api freq out of limit, hint: [")


def test_5xx_fault(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.control.post("/faults", json={"error_rate_5xx": 1.0}).raise_for_status()
    response = cgi.http.get(FOLLOW_USERS, params={"access_token": cgi.token})
    assert response.status_code in (500, 502)
    wecom_sim.control.post("/faults", json={"error_rate_5xx": 0.0}).raise_for_status()
    assert cgi.get(FOLLOW_USERS)["errcode"] == 0


def test_5xx_rate_hits_about_that_share(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.control.post("/faults", json={"error_rate_5xx": 0.5}).raise_for_status()
    statuses = [
        cgi.http.get(FOLLOW_USERS, params={"access_token": cgi.token}).status_code
        for _ in range(60)
    ]
    failed = sum(1 for s in statuses if s >= 500)
    assert 10 < failed < 50


def test_slow_responses_and_the_concurrency_cap(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(max_concurrency=1)
    wecom_sim.control.post("/faults", json={"delay_ms": 1000}).raise_for_status()
    codes: list[int] = []

    def call() -> None:
        with httpx.Client(timeout=10) as http:
            response = http.get(
                f"{wecom_sim.base_url}/cgi-bin{FOLLOW_USERS}", params={"access_token": cgi.token}
            )
            codes.append(response.json()["errcode"])

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes)[0] == 0
    assert 45033 in codes


def test_a_burst_of_another_errcode(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.control.post("/faults", json={"burst_45009": 1, "burst_errcode": -1})
    assert cgi.get(FOLLOW_USERS)["errcode"] == -1
    assert cgi.get(FOLLOW_USERS)["errcode"] == 0


def test_an_untrusted_ip_is_refused_everywhere(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.control.post("/faults", json={"untrusted_ip": True}).raise_for_status()
    refused = cgi.get(FOLLOW_USERS)
    assert refused["errcode"] == 60020
    assert refused["errmsg"].startswith("not allow to access from your ip")
    assert "from ip: 127.0.0.1" in refused["errmsg"]
    token = httpx.get(
        f"{wecom_sim.base_url}/cgi-bin/gettoken",
        params={"corpid": wecom_sim.corp_id, "corpsecret": wecom_sim.contact_secret},
    )
    assert token.json()["errcode"] == 60020

"""Reading decrypted callbacks into events, and finding their handlers."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from siyu.connectors.wecom.events import (
    CallbackEvent,
    EventParseError,
    handler_for,
    handles,
    parse_event,
)
from siyu.connectors.wecom_sim.callbacks import event_xml

ADD_CONTACT = (
    b"<xml><ToUserName><![CDATA[ww1234]]></ToUserName>"
    b"<FromUserName><![CDATA[sys]]></FromUserName>"
    b"<CreateTime>1403610513</CreateTime>"
    b"<MsgType><![CDATA[event]]></MsgType>"
    b"<Event><![CDATA[change_external_contact]]></Event>"
    b"<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
    b"<UserID><![CDATA[zhangsan]]></UserID>"
    b"<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACAAA]]></ExternalUserID>"
    b"<State><![CDATA[channel-42]]></State>"
    b"<WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode>"
    b"</xml>"
)


def test_add_external_contact_event_exposes_every_field_by_its_wecom_name() -> None:
    event = parse_event(ADD_CONTACT)

    assert event.event == "change_external_contact"
    assert event.change_type == "add_external_contact"
    assert event.create_time == datetime(2014, 6, 24, 11, 48, 33, tzinfo=UTC)
    assert event.fields["UserID"] == "zhangsan"
    assert event.fields["ExternalUserID"] == "woAJ2GCAAAXtWyujaWJHDDGi0mACAAA"
    assert event.fields["State"] == "channel-42"
    assert event.fields["WelcomeCode"] == "WELCOMECODE"
    assert event.fields["FromUserName"] == "sys"


def test_simulator_events_with_item_lists_parse() -> None:
    xml = event_xml(
        "ww1234",
        1700000000,
        {
            "Event": "change_external_chat",
            "ChangeType": "update",
            "ChatId": "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA",
            "UpdateDetail": "add_member",
            "JoinScene": 1,
            "MemChangeCnt": 2,
            "MemChangeList": ["wmA", "wmB"],
        },
    )

    event = parse_event(xml.encode())

    assert (event.event, event.change_type) == ("change_external_chat", "update")
    assert event.fields["ChatId"] == "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
    assert event.fields["JoinScene"] == "1"
    assert event.lists["MemChangeList"] == ("wmA", "wmB")
    assert event.fields["MemChangeList"] == "wmA,wmB"


def test_app_message_without_event_is_named_by_its_msg_type() -> None:
    event = parse_event(
        b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
        b"<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n"
        b"<Content><![CDATA[hello]]></Content>\n</xml>"
    )

    assert event.event == "text"
    assert event.change_type is None
    assert event.fields["Content"] == "hello"


@pytest.mark.parametrize(
    "xml",
    [
        b"",
        b"not xml",
        b"<xml><Event>change_external_contact</Event>",
        b"<xml><CreateTime>1</CreateTime></xml>",
        b"<xml><Event>x</Event><CreateTime>yesterday</CreateTime></xml>",
        b"<xml><Event>x</Event></xml>",
        (
            b'<!DOCTYPE xml [<!ENTITY e "boom">]>'
            b"<xml><Event>&e;</Event><CreateTime>1</CreateTime></xml>"
        ),
        b"<xml><Event>x</Event><CreateTime>1</CreateTime>" + b"<A>b</A>" * 10_000 + b"</xml>",
    ],
    ids=["empty", "text", "unclosed", "no-event", "bad-time", "no-time", "entity", "huge"],
)
def test_malformed_events_raise_a_parse_error(xml: bytes) -> None:
    with pytest.raises(EventParseError):
        parse_event(xml)


@handles("tests_events_lookup", "exact")
async def _exact(_session: Session, _workspace_id: int, _event: CallbackEvent) -> None:
    return None


@handles("tests_events_lookup")
async def _any(_session: Session, _workspace_id: int, _event: CallbackEvent) -> None:
    return None


def _event(name: str, change_type: str | None) -> CallbackEvent:
    return CallbackEvent(name, change_type, datetime.now(UTC), {})


def test_handler_lookup_prefers_the_change_type_then_falls_back_to_the_event() -> None:
    assert handler_for(_event("tests_events_lookup", "exact")) is _exact
    assert handler_for(_event("tests_events_lookup", "other")) is _any
    assert handler_for(_event("tests_events_lookup", None)) is _any
    assert handler_for(_event("tests_events_unknown", "exact")) is None


def test_a_second_handler_for_the_same_event_is_refused() -> None:
    async def another(_session: Session, _workspace_id: int, _event: CallbackEvent) -> None:
        return None

    with pytest.raises(RuntimeError, match="two handlers"):
        handles("tests_events_lookup", "exact")(another)
    assert handles("tests_events_lookup", "exact")(_exact) is _exact

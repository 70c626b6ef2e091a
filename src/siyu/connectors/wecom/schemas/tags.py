"""Corp tags (企业标签, protocol.md §3.3)."""

from pydantic import Field

from siyu.connectors.wecom.schemas.base import WecomModel, WecomResponse


class CorpTag(WecomModel):
    id: str
    name: str = ""
    create_time: int = 0
    order: int = 0
    # only returned when filtering by id
    deleted: bool = False


class CorpTagGroup(WecomModel):
    group_id: str
    group_name: str = ""
    create_time: int = 0
    order: int = 0
    deleted: bool = False
    tag: list[CorpTag] = Field(default_factory=list)


class CorpTagListRequest(WecomModel):
    tag_id: list[str] | None = None
    group_id: list[str] | None = None


class CorpTagListResponse(WecomResponse):
    tag_group: list[CorpTagGroup] = Field(default_factory=list)


class NewCorpTag(WecomModel):
    name: str
    order: int | None = None


class AddCorpTagRequest(WecomModel):
    """Tags go into `group_id`, or into the group named `group_name` (created if new)."""

    group_id: str | None = None
    group_name: str | None = None
    order: int | None = None
    tag: list[NewCorpTag]
    agentid: int | None = None


class AddCorpTagResponse(WecomResponse):
    tag_group: CorpTagGroup


class EditCorpTagRequest(WecomModel):
    """`id` is a tag id or a group id."""

    id: str
    name: str | None = None
    order: int | None = None
    agentid: int | None = None


class DelCorpTagRequest(WecomModel):
    tag_id: list[str] | None = None
    group_id: list[str] | None = None
    agentid: int | None = None


class MarkTagRequest(WecomModel):
    userid: str
    external_userid: str
    add_tag: list[str] = Field(default_factory=list)
    remove_tag: list[str] = Field(default_factory=list)

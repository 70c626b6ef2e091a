"""Inheritance (在职继承 / 离职继承) of customers and of customer groups (protocol.md §3.8)."""

from pydantic import Field

from siyu.connectors.wecom.schemas.base import CursorPage, WecomModel, WecomResponse


class TransferCustomerRequest(WecomModel):
    handover_userid: str
    takeover_userid: str
    external_userid: list[str]
    transfer_success_msg: str | None = None


class TransferStarted(WecomModel):
    """0 = transfer started for this customer."""

    external_userid: str
    errcode: int = 0


class TransferCustomerResponse(WecomResponse):
    customer: list[TransferStarted] = Field(default_factory=list)


class TransferResultRequest(WecomModel):
    handover_userid: str
    takeover_userid: str
    cursor: str | None = None


class TransferStatus(WecomModel):
    external_userid: str
    # 1 done, 2 waiting, 3 customer refused, 4 takeover member full, 5 no transfer record
    status: int
    # the (future) completion time while waiting
    takeover_time: int = 0


class TransferResultResponse(CursorPage):
    customer: list[TransferStatus] = Field(default_factory=list)


class UnassignedCustomer(WecomModel):
    handover_userid: str
    external_userid: str
    dimission_time: int = 0


class UnassignedListResponse(CursorPage):
    info: list[UnassignedCustomer] = Field(default_factory=list)
    is_last: bool = True


class GroupChatTransferRequest(WecomModel):
    """`groupchat/transfer` (owner resigned) and `groupchat/onjob_transfer`: 1–100 chats."""

    chat_id_list: list[str]
    new_owner: str


class FailedChat(WecomModel):
    chat_id: str
    errcode: int = 0
    errmsg: str = ""


class GroupChatTransferResponse(WecomResponse):
    """Only the chats that were not transferred are listed; the others have their new owner."""

    failed_chat_list: list[FailedChat] = Field(default_factory=list)

"""An async client for the WeCom server APIs Siyu calls (protocol.md §3).

One method per API, named after its path below /cgi-bin/ with "/" → "_", returning the
models of `siyu.connectors.wecom.schemas`; `iter_*` methods walk every page of a list.
The message APIs (welcome messages, mass messages, media) are inherited from
`MessageCalls` (client_messages.py); tokens, the shared rate limit, retries and errors are
`WecomTransport`'s (transport.py).
"""

from collections.abc import AsyncIterator, Sequence
from functools import partial

from siyu.connectors.wecom.client_messages import MessageCalls
from siyu.connectors.wecom.schemas.base import WecomResponse
from siyu.connectors.wecom.schemas.contact_ways import (
    AddContactWayRequest,
    AddContactWayResponse,
    ContactWayRef,
    GetContactWayResponse,
    ListContactWayRequest,
    ListContactWayResponse,
    UpdateContactWayRequest,
)
from siyu.connectors.wecom.schemas.contacts import (
    BatchGetByUserResponse,
    ExternalContactGetResponse,
    ExternalContactListResponse,
    ExternalContactWithFollowInfo,
    RemarkRequest,
)
from siyu.connectors.wecom.schemas.groups import (
    GroupChatGetResponse,
    GroupChatListRequest,
    GroupChatListResponse,
    GroupChatRef,
    OwnerFilter,
)
from siyu.connectors.wecom.schemas.org import (
    DepartmentListResponse,
    DepartmentSimpleListResponse,
    DeptUser,
    FollowUserListResponse,
    UserGetResponse,
    UserListIdResponse,
    UserListResponse,
    UserSimpleListResponse,
)
from siyu.connectors.wecom.schemas.tags import (
    AddCorpTagRequest,
    AddCorpTagResponse,
    CorpTagListRequest,
    CorpTagListResponse,
    DelCorpTagRequest,
    EditCorpTagRequest,
    MarkTagRequest,
    NewCorpTag,
)
from siyu.connectors.wecom.schemas.transfers import (
    GroupChatTransferRequest,
    GroupChatTransferResponse,
    TransferCustomerRequest,
    TransferCustomerResponse,
    TransferResultRequest,
    TransferResultResponse,
    TransferStatus,
    UnassignedCustomer,
    UnassignedListResponse,
)


class WecomClient(MessageCalls):
    # ------------------------------------------------------ departments, members

    async def department_list(self, id: int | None = None) -> DepartmentListResponse:  # noqa: A002
        return DepartmentListResponse.model_validate(await self._get("department/list", id=id))

    async def department_simplelist(self, id: int | None = None) -> DepartmentSimpleListResponse:  # noqa: A002
        data = await self._get("department/simplelist", id=id)
        return DepartmentSimpleListResponse.model_validate(data)

    async def user_simplelist(self, department_id: int) -> UserSimpleListResponse:
        data = await self._get("user/simplelist", department_id=department_id)
        return UserSimpleListResponse.model_validate(data)

    async def user_list(self, department_id: int) -> UserListResponse:
        return UserListResponse.model_validate(
            await self._get("user/list", department_id=department_id)
        )

    async def user_get(self, userid: str) -> UserGetResponse:
        return UserGetResponse.model_validate(await self._get("user/get", userid=userid))

    async def user_list_id(
        self, cursor: str | None = None, limit: int | None = None
    ) -> UserListIdResponse:
        body = {"cursor": cursor, "limit": limit}
        data = await self._send(
            "POST", "user/list_id", body={k: v for k, v in body.items() if v is not None}, read=True
        )
        return UserListIdResponse.model_validate(data)

    async def iter_user_list_id(self, limit: int = 10_000) -> AsyncIterator[DeptUser]:
        async for page in self.pages(lambda cursor: self.user_list_id(cursor, limit)):
            for row in page.dept_user:
                yield row

    async def externalcontact_get_follow_user_list(self) -> FollowUserListResponse:
        data = await self._get("externalcontact/get_follow_user_list")
        return FollowUserListResponse.model_validate(data)

    # ------------------------------------------------------------------- customers

    async def externalcontact_list(self, userid: str) -> ExternalContactListResponse:
        data = await self._get("externalcontact/list", userid=userid)
        return ExternalContactListResponse.model_validate(data)

    async def externalcontact_get(
        self, external_userid: str, cursor: str | None = None
    ) -> ExternalContactGetResponse:
        data = await self._get(
            "externalcontact/get", external_userid=external_userid, cursor=cursor or None
        )
        return ExternalContactGetResponse.model_validate(data)

    async def externalcontact_get_all(self, external_userid: str) -> ExternalContactGetResponse:
        """`externalcontact/get` with every page of `follow_user` (500 a page) merged."""
        result: ExternalContactGetResponse | None = None
        async for page in self.pages(lambda c: self.externalcontact_get(external_userid, c)):
            if result is None:
                result = page
            else:
                result.follow_user.extend(page.follow_user)
        assert result is not None
        result.next_cursor = ""
        return result

    async def externalcontact_batch_get_by_user(
        self, userid_list: Sequence[str], cursor: str | None = None, limit: int = 100
    ) -> BatchGetByUserResponse:
        body = {"userid_list": list(userid_list), "cursor": cursor or "", "limit": limit}
        data = await self._send("POST", "externalcontact/batch/get_by_user", body=body, read=True)
        return BatchGetByUserResponse.model_validate(data)

    async def iter_batch_get_by_user(
        self, userid_list: Sequence[str], limit: int = 100
    ) -> AsyncIterator[ExternalContactWithFollowInfo]:
        """Every (customer, follow info) of these members, 100 members per request."""
        for start in range(0, len(userid_list), 100):
            chunk = userid_list[start : start + 100]
            fetch = partial(self.externalcontact_batch_get_by_user, chunk, limit=limit)
            async for page in self.pages(fetch):
                for row in page.external_contact_list:
                    yield row

    async def externalcontact_remark(
        self,
        userid: str,
        external_userid: str,
        *,
        remark: str | None = None,
        description: str | None = None,
        remark_company: str | None = None,
        remark_mobiles: Sequence[str] | None = None,
        remark_pic_mediaid: str | None = None,
    ) -> WecomResponse:
        request = RemarkRequest(
            userid=userid,
            external_userid=external_userid,
            remark=remark,
            description=description,
            remark_company=remark_company,
            remark_mobiles=list(remark_mobiles) if remark_mobiles is not None else None,
            remark_pic_mediaid=remark_pic_mediaid,
        )
        data = await self._post("externalcontact/remark", request, read=False)
        return WecomResponse.model_validate(data)

    # ------------------------------------------------------------------ corp tags

    async def externalcontact_get_corp_tag_list(
        self, tag_id: Sequence[str] | None = None, group_id: Sequence[str] | None = None
    ) -> CorpTagListResponse:
        request = CorpTagListRequest(
            tag_id=list(tag_id) if tag_id else None, group_id=list(group_id) if group_id else None
        )
        data = await self._post("externalcontact/get_corp_tag_list", request, read=True)
        return CorpTagListResponse.model_validate(data)

    async def externalcontact_add_corp_tag(
        self,
        tags: Sequence[NewCorpTag | str],
        *,
        group_id: str | None = None,
        group_name: str | None = None,
        order: int | None = None,
        agentid: int | None = None,
    ) -> AddCorpTagResponse:
        request = AddCorpTagRequest(
            group_id=group_id,
            group_name=group_name,
            order=order,
            tag=[NewCorpTag(name=t) if isinstance(t, str) else t for t in tags],
            agentid=agentid,
        )
        data = await self._post("externalcontact/add_corp_tag", request, read=False)
        return AddCorpTagResponse.model_validate(data)

    async def externalcontact_edit_corp_tag(
        self,
        id: str,  # noqa: A002 - WeCom's field name
        *,
        name: str | None = None,
        order: int | None = None,
        agentid: int | None = None,
    ) -> WecomResponse:
        request = EditCorpTagRequest(id=id, name=name, order=order, agentid=agentid)
        data = await self._post("externalcontact/edit_corp_tag", request, read=False)
        return WecomResponse.model_validate(data)

    async def externalcontact_del_corp_tag(
        self,
        tag_id: Sequence[str] = (),
        group_id: Sequence[str] = (),
        *,
        agentid: int | None = None,
    ) -> WecomResponse:
        request = DelCorpTagRequest(
            tag_id=list(tag_id) or None, group_id=list(group_id) or None, agentid=agentid
        )
        data = await self._post("externalcontact/del_corp_tag", request, read=False)
        return WecomResponse.model_validate(data)

    async def externalcontact_mark_tag(
        self,
        userid: str,
        external_userid: str,
        add_tag: Sequence[str] = (),
        remove_tag: Sequence[str] = (),
    ) -> WecomResponse:
        request = MarkTagRequest(
            userid=userid,
            external_userid=external_userid,
            add_tag=list(add_tag),
            remove_tag=list(remove_tag),
        )
        data = await self._post("externalcontact/mark_tag", request, read=False)
        return WecomResponse.model_validate(data)

    # ---------------------------------------------------------------- contact ways

    async def externalcontact_add_contact_way(
        self, way: AddContactWayRequest
    ) -> AddContactWayResponse:
        data = await self._post("externalcontact/add_contact_way", way, read=False)
        return AddContactWayResponse.model_validate(data)

    async def externalcontact_get_contact_way(self, config_id: str) -> GetContactWayResponse:
        data = await self._send(
            "POST", "externalcontact/get_contact_way", body={"config_id": config_id}, read=True
        )
        return GetContactWayResponse.model_validate(data)

    async def externalcontact_update_contact_way(
        self, way: UpdateContactWayRequest
    ) -> WecomResponse:
        data = await self._post("externalcontact/update_contact_way", way, read=False)
        return WecomResponse.model_validate(data)

    async def externalcontact_del_contact_way(self, config_id: str) -> WecomResponse:
        data = await self._send(
            "POST", "externalcontact/del_contact_way", body={"config_id": config_id}, read=False
        )
        return WecomResponse.model_validate(data)

    async def externalcontact_list_contact_way(
        self,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> ListContactWayResponse:
        request = ListContactWayRequest(
            start_time=start_time, end_time=end_time, cursor=cursor or None, limit=limit
        )
        data = await self._post("externalcontact/list_contact_way", request, read=True)
        return ListContactWayResponse.model_validate(data)

    async def iter_list_contact_way(
        self, *, start_time: int | None = None, end_time: int | None = None, limit: int = 1000
    ) -> AsyncIterator[ContactWayRef]:
        async for page in self.pages(
            lambda c: self.externalcontact_list_contact_way(
                start_time=start_time, end_time=end_time, cursor=c, limit=limit
            )
        ):
            for row in page.contact_way:
                yield row

    # ---------------------------------------------------------------- group chats

    async def externalcontact_groupchat_list(
        self,
        *,
        limit: int = 1000,
        cursor: str | None = None,
        status_filter: int | None = None,
        owner_userids: Sequence[str] | None = None,
    ) -> GroupChatListResponse:
        request = GroupChatListRequest(
            status_filter=status_filter,
            owner_filter=OwnerFilter(userid_list=list(owner_userids)) if owner_userids else None,
            cursor=cursor or None,
            limit=limit,
        )
        data = await self._post("externalcontact/groupchat/list", request, read=True)
        return GroupChatListResponse.model_validate(data)

    async def iter_groupchat_list(
        self,
        *,
        status_filter: int | None = None,
        owner_userids: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[GroupChatRef]:
        async for page in self.pages(
            lambda c: self.externalcontact_groupchat_list(
                limit=limit, cursor=c, status_filter=status_filter, owner_userids=owner_userids
            )
        ):
            for row in page.group_chat_list:
                yield row

    async def externalcontact_groupchat_get(
        self, chat_id: str, need_name: int = 1
    ) -> GroupChatGetResponse:
        body = {"chat_id": chat_id, "need_name": need_name}
        data = await self._send("POST", "externalcontact/groupchat/get", body=body, read=True)
        return GroupChatGetResponse.model_validate(data)

    # ---------------------------------------------------------------- inheritance

    async def externalcontact_transfer_customer(
        self,
        handover_userid: str,
        takeover_userid: str,
        external_userid: Sequence[str],
        transfer_success_msg: str | None = None,
    ) -> TransferCustomerResponse:
        request = TransferCustomerRequest(
            handover_userid=handover_userid,
            takeover_userid=takeover_userid,
            external_userid=list(external_userid),
            transfer_success_msg=transfer_success_msg,
        )
        data = await self._post("externalcontact/transfer_customer", request, read=False)
        return TransferCustomerResponse.model_validate(data)

    async def externalcontact_transfer_result(
        self, handover_userid: str, takeover_userid: str, cursor: str | None = None
    ) -> TransferResultResponse:
        request = TransferResultRequest(
            handover_userid=handover_userid, takeover_userid=takeover_userid, cursor=cursor or None
        )
        data = await self._post("externalcontact/transfer_result", request, read=True)
        return TransferResultResponse.model_validate(data)

    async def externalcontact_resigned_transfer_customer(
        self, handover_userid: str, takeover_userid: str, external_userid: Sequence[str]
    ) -> TransferCustomerResponse:
        request = TransferCustomerRequest(
            handover_userid=handover_userid,
            takeover_userid=takeover_userid,
            external_userid=list(external_userid),
        )
        data = await self._post("externalcontact/resigned/transfer_customer", request, read=False)
        return TransferCustomerResponse.model_validate(data)

    async def externalcontact_resigned_transfer_result(
        self, handover_userid: str, takeover_userid: str, cursor: str | None = None
    ) -> TransferResultResponse:
        request = TransferResultRequest(
            handover_userid=handover_userid, takeover_userid=takeover_userid, cursor=cursor or None
        )
        data = await self._post("externalcontact/resigned/transfer_result", request, read=True)
        return TransferResultResponse.model_validate(data)

    async def iter_transfer_result(
        self, handover_userid: str, takeover_userid: str, *, resigned: bool = False
    ) -> AsyncIterator[TransferStatus]:
        fetch = (
            self.externalcontact_resigned_transfer_result
            if resigned
            else self.externalcontact_transfer_result
        )
        async for page in self.pages(lambda c: fetch(handover_userid, takeover_userid, c)):
            for row in page.customer:
                yield row

    async def externalcontact_groupchat_transfer(
        self, chat_id_list: Sequence[str], new_owner: str
    ) -> GroupChatTransferResponse:
        """Customer groups whose owner resigned go to `new_owner` at once (1–100 chats)."""
        request = GroupChatTransferRequest(chat_id_list=list(chat_id_list), new_owner=new_owner)
        data = await self._post("externalcontact/groupchat/transfer", request, read=False)
        return GroupChatTransferResponse.model_validate(data)

    async def externalcontact_groupchat_onjob_transfer(
        self, chat_id_list: Sequence[str], new_owner: str
    ) -> GroupChatTransferResponse:
        """Customer groups of a member in service go to `new_owner` at once (1–100 chats)."""
        request = GroupChatTransferRequest(chat_id_list=list(chat_id_list), new_owner=new_owner)
        data = await self._post("externalcontact/groupchat/onjob_transfer", request, read=False)
        return GroupChatTransferResponse.model_validate(data)

    async def externalcontact_get_unassigned_list(
        self, cursor: str | None = None, page_size: int | None = None
    ) -> UnassignedListResponse:
        body = {"cursor": cursor or None, "page_size": page_size}
        data = await self._send(
            "POST",
            "externalcontact/get_unassigned_list",
            body={k: v for k, v in body.items() if v is not None},
            read=True,
        )
        return UnassignedListResponse.model_validate(data)

    async def iter_unassigned_list(self) -> AsyncIterator[UnassignedCustomer]:
        async for page in self.pages(self.externalcontact_get_unassigned_list):
            for row in page.info:
                yield row
            if page.is_last:
                return

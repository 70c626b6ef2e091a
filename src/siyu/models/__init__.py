"""The tables, one module per table. Importing this package registers them all."""

from siyu.models.api_key import ApiKey
from siyu.models.audit_entry import AuditEntry
from siyu.models.broadcast import Broadcast
from siyu.models.changed_customer import ChangedCustomer
from siyu.models.channel_account import ChannelAccount
from siyu.models.clv_model import ClvModel
from siyu.models.console_session import ConsoleSession
from siyu.models.custom_field import CustomField
from siyu.models.customer import Customer
from siyu.models.customer_feature import CustomerFeature
from siyu.models.customer_group import CustomerGroup
from siyu.models.customer_group_member import CustomerGroupMember
from siyu.models.customer_tag import CustomerTag
from siyu.models.delivery import Delivery
from siyu.models.department import Department
from siyu.models.event import Event
from siyu.models.event_counter import EventCounter
from siyu.models.event_type import EventType
from siyu.models.follow_loss import FollowLoss
from siyu.models.follow_relation import FollowRelation
from siyu.models.follow_relation_tag import FollowRelationTag
from siyu.models.follow_up import FollowUp
from siyu.models.identity import Identity
from siyu.models.import_run import ImportRun
from siyu.models.job import Job
from siyu.models.link_visit import LinkVisit
from siyu.models.link_visitor import LinkVisitor
from siyu.models.live_code import LiveCode
from siyu.models.live_code_add import LiveCodeAdd
from siyu.models.live_code_staff import LiveCodeStaff
from siyu.models.material import Material
from siyu.models.material_group import MaterialGroup
from siyu.models.material_tag import MaterialTag
from siyu.models.membership import Membership
from siyu.models.merge_record import MergeRecord
from siyu.models.opt_out import OptOut
from siyu.models.order import Order
from siyu.models.order_item import OrderItem
from siyu.models.product import Product
from siyu.models.rate_bucket import RateBucket
from siyu.models.refund import Refund
from siyu.models.schedule import Schedule
from siyu.models.segment import Segment
from siyu.models.segment_change import SegmentChange
from siyu.models.segment_member import SegmentMember
from siyu.models.segment_size import SegmentSize
from siyu.models.segment_snapshot import SegmentSnapshot
from siyu.models.segment_snapshot_member import SegmentSnapshotMember
from siyu.models.share_edge import ShareEdge
from siyu.models.staff import Staff
from siyu.models.stage_change import StageChange
from siyu.models.tag import Tag
from siyu.models.tag_bits import TagBits
from siyu.models.tag_change import TagChange
from siyu.models.tag_group import TagGroup
from siyu.models.tracked_link import TrackedLink
from siyu.models.user import User
from siyu.models.wecom_broadcast_task import WecomBroadcastTask
from siyu.models.wecom_callback import WecomCallback
from siyu.models.wecom_callback_refusal import WecomCallbackRefusal
from siyu.models.wecom_connection import WecomConnection
from siyu.models.wecom_group_delivery import WecomGroupDelivery
from siyu.models.wecom_media import WecomMedia
from siyu.models.wecom_sync_run import WecomSyncRun
from siyu.models.wecom_transfer import WecomTransfer
from siyu.models.workspace import Workspace

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Broadcast",
    "ChangedCustomer",
    "ChannelAccount",
    "ClvModel",
    "ConsoleSession",
    "CustomField",
    "Customer",
    "CustomerFeature",
    "CustomerGroup",
    "CustomerGroupMember",
    "CustomerTag",
    "Delivery",
    "Department",
    "Event",
    "EventCounter",
    "EventType",
    "FollowLoss",
    "FollowRelation",
    "FollowRelationTag",
    "FollowUp",
    "Identity",
    "ImportRun",
    "Job",
    "LinkVisit",
    "LinkVisitor",
    "LiveCode",
    "LiveCodeAdd",
    "LiveCodeStaff",
    "Material",
    "MaterialGroup",
    "MaterialTag",
    "Membership",
    "MergeRecord",
    "OptOut",
    "Order",
    "OrderItem",
    "Product",
    "RateBucket",
    "Refund",
    "Schedule",
    "Segment",
    "SegmentChange",
    "SegmentMember",
    "SegmentSize",
    "SegmentSnapshot",
    "SegmentSnapshotMember",
    "ShareEdge",
    "Staff",
    "StageChange",
    "Tag",
    "TagBits",
    "TagChange",
    "TagGroup",
    "TrackedLink",
    "User",
    "WecomBroadcastTask",
    "WecomCallback",
    "WecomCallbackRefusal",
    "WecomConnection",
    "WecomGroupDelivery",
    "WecomMedia",
    "WecomSyncRun",
    "WecomTransfer",
    "Workspace",
]

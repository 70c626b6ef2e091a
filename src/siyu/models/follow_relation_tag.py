from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, WorkspaceMixin


class FollowRelationTag(WorkspaceMixin, Base):
    """A WeCom corp tag one staff member put on a customer (tags are per follow relation in
    WeCom); the customer's "wecom" tags are the union over its active relations."""

    __tablename__ = "follow_relation_tag"
    __table_args__ = (Index(None, "workspace_id", "tag_id"),)

    follow_relation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("follow_relation.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True
    )

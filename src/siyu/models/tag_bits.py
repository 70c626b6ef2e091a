from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, WorkspaceMixin


class TagBits(WorkspaceMixin, Base):
    """Which customers carry a tag, as bits (`siyu.kit.idbits`): one row per tag and block
    of 8,192 customer ids. Kept by every write of `customer_tag`, in the same transaction,
    so segment rules on tags read a few KiB instead of every assignment."""

    __tablename__ = "tag_bits"

    tag_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True
    )
    block: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    bits: Mapped[bytes] = mapped_column(LargeBinary)

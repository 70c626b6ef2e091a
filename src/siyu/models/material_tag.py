from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin


class MaterialTag(IdMixin, WorkspaceMixin, Base):
    """One free tag of a material, a row per tag so the library filters by tag with an index."""

    __tablename__ = "material_tag"
    __table_args__ = (
        UniqueConstraint("material_id", "name"),
        Index(None, "workspace_id", "name"),
    )

    material_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("material.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(32))

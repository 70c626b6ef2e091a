from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class MaterialGroup(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A folder of the materials library (素材分组); a material is in at most one."""

    __tablename__ = "material_group"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    name: Mapped[str] = mapped_column(String(64))
    sort_order: Mapped[int] = mapped_column(default=0)

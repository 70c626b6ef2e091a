"""Queries of the materials library; every one is filtered by the workspace."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from siyu.kit.pagination import SortSpec, paginate
from siyu.models import Material, MaterialGroup, MaterialTag, WecomMedia

MATERIAL_SORTS = ("created_at", "updated_at", "title")


class MaterialsRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id

    # -- groups -----------------------------------------------------------------

    def group(self, group_id: int) -> MaterialGroup | None:
        return self.session.scalar(
            select(MaterialGroup).where(
                MaterialGroup.workspace_id == self.workspace_id, MaterialGroup.id == group_id
            )
        )

    def group_named(self, name: str) -> MaterialGroup | None:
        return self.session.scalar(
            select(MaterialGroup).where(
                MaterialGroup.workspace_id == self.workspace_id, MaterialGroup.name == name
            )
        )

    def groups(self) -> list[MaterialGroup]:
        return list(
            self.session.scalars(
                select(MaterialGroup)
                .where(MaterialGroup.workspace_id == self.workspace_id)
                .order_by(MaterialGroup.sort_order, MaterialGroup.id)
            )
        )

    def group_counts(self) -> dict[int, int]:
        rows = self.session.execute(
            select(Material.group_id, func.count())
            .where(Material.workspace_id == self.workspace_id, Material.group_id.is_not(None))
            .group_by(Material.group_id)
        )
        return {int(group_id or 0): int(count) for group_id, count in rows}

    # -- materials --------------------------------------------------------------

    def material(self, material_id: int) -> Material | None:
        return self.session.scalar(
            select(Material).where(
                Material.workspace_id == self.workspace_id, Material.id == material_id
            )
        )

    def materials_page(
        self,
        *,
        kind: str | None,
        group_id: int | None,
        tag: str | None,
        q: str | None,
        sort: SortSpec,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Material], str | None]:
        stmt: Select[Any] = select(Material).where(Material.workspace_id == self.workspace_id)
        if kind is not None:
            stmt = stmt.where(Material.kind == kind)
        if group_id is not None:
            stmt = stmt.where(Material.group_id == group_id)
        if tag:
            stmt = stmt.where(
                exists(
                    select(MaterialTag.id).where(
                        MaterialTag.workspace_id == self.workspace_id,
                        MaterialTag.material_id == Material.id,
                        MaterialTag.name == tag,
                    )
                )
            )
        if q:
            stmt = stmt.where(
                or_(
                    Material.title.icontains(q, autoescape=True),
                    Material.description.icontains(q, autoescape=True),
                )
            )
        paged, page = paginate(
            stmt,
            columns={
                "created_at": Material.created_at.expression,
                "updated_at": Material.updated_at.expression,
                "title": Material.title.expression,
            },
            id_column=Material.id.expression,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )
        return page.build(list(self.session.scalars(paged)))

    def set_tags(self, material_id: int, names: Sequence[str]) -> None:
        self.session.execute(
            delete(MaterialTag).where(
                MaterialTag.workspace_id == self.workspace_id,
                MaterialTag.material_id == material_id,
            )
        )
        self.session.add_all(
            MaterialTag(workspace_id=self.workspace_id, material_id=material_id, name=name)
            for name in names
        )
        self.session.flush()

    def tag_counts(self) -> list[tuple[str, int]]:
        rows = self.session.execute(
            select(MaterialTag.name, func.count())
            .where(MaterialTag.workspace_id == self.workspace_id)
            .group_by(MaterialTag.name)
            .order_by(func.count().desc(), MaterialTag.name)
        )
        return [(str(name), int(count)) for name, count in rows]

    # -- WeCom media --------------------------------------------------------------

    def media(self, material_id: int, blob_key: str, media_type: str) -> WecomMedia | None:
        return self.session.scalar(
            select(WecomMedia).where(
                WecomMedia.workspace_id == self.workspace_id,
                WecomMedia.material_id == material_id,
                WecomMedia.blob_key == blob_key,
                WecomMedia.media_type == media_type,
            )
        )

    def media_expiring(self, before: datetime, used_since: datetime) -> list[WecomMedia]:
        """Temporary media expiring before `before` of materials used since `used_since`
        whose file is still the one uploaded."""
        return list(
            self.session.scalars(
                select(WecomMedia)
                .join(Material, Material.id == WecomMedia.material_id)
                .where(
                    WecomMedia.workspace_id == self.workspace_id,
                    Material.workspace_id == self.workspace_id,
                    WecomMedia.expires_at.is_not(None),
                    WecomMedia.expires_at < before,
                    Material.last_used_at >= used_since,
                    or_(
                        WecomMedia.blob_key == Material.file_key,
                        WecomMedia.blob_key == Material.cover_key,
                    ),
                )
                .order_by(WecomMedia.id)
            )
        )


def workspaces_with_media_expiring(
    session: Session, before: datetime, used_since: datetime
) -> list[int]:
    """Workspaces with media to refresh (installation-wide, for the hourly fan-out)."""
    rows = session.scalars(
        select(WecomMedia.workspace_id)
        .join(Material, Material.id == WecomMedia.material_id)
        .where(
            WecomMedia.expires_at.is_not(None),
            WecomMedia.expires_at < before,
            Material.last_used_at >= used_since,
        )
        .distinct()
        .order_by(WecomMedia.workspace_id)
    )
    return [int(w) for w in rows]

"""Roles and what they may do."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    STAFF = "staff"
    VIEWER = "viewer"


# Higher ranks include the permissions of lower ones. Staff write, but only within their
# data scope (the customers they follow); viewers only read.
_RANK = {Role.VIEWER: 0, Role.STAFF: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


def at_least(role: Role, minimum: Role) -> bool:
    return _RANK[role] >= _RANK[minimum]

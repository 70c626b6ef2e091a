"""Control endpoints that play the people: customers, staff and admins acting in WeCom."""

from fastapi import APIRouter

router = APIRouter()

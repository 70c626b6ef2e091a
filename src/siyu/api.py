"""Mounts each domain's router under /api/v1."""

from fastapi import APIRouter

from siyu.workspace.endpoints import router as workspace_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(workspace_router)

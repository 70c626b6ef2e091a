"""Mounts each domain's router under /api/v1."""

from fastapi import APIRouter

from siyu.acquisition.endpoints import router as acquisition_router
from siyu.analytics.clv_endpoints import router as clv_router
from siyu.analytics.dashboard_endpoints import router as dashboards_router
from siyu.analytics.endpoints import router as analytics_router
from siyu.analytics.rfm_endpoints import router as rfm_router
from siyu.commerce.endpoints import router as commerce_router
from siyu.connectors.wecom.check_endpoints import router as wecom_check_router
from siyu.connectors.wecom.endpoints import router as wecom_router
from siyu.connectors.wecom.group_endpoints import router as wecom_group_router
from siyu.connectors.wecom.sync_endpoints import router as wecom_sync_router
from siyu.console.endpoints import router as console_router
from siyu.content.links_endpoints import router as share_chains_router
from siyu.content.materials_endpoints import router as materials_router
from siyu.customers.endpoints import router as customers_router
from siyu.customers.merge_endpoints import router as merge_router
from siyu.demo.responses import router as demo_responses_router
from siyu.demo.simulate import router as demo_router
from siyu.events.endpoints import router as events_router
from siyu.messaging.endpoints import router as messaging_router
from siyu.segments.endpoints import router as segments_router
from siyu.staff.endpoints import router as staff_router
from siyu.tags.endpoints import router as tags_router
from siyu.tasks.endpoints import router as tasks_router
from siyu.worker.endpoints import router as jobs_router
from siyu.workspace.endpoints import router as workspace_router

api_router = APIRouter(prefix="/api/v1")
# Before customers_router: /customers/lookup must not be read as /customers/{customer_id}.
api_router.include_router(merge_router)
api_router.include_router(customers_router)
api_router.include_router(events_router)
api_router.include_router(workspace_router)
api_router.include_router(tags_router)
api_router.include_router(tasks_router)
api_router.include_router(staff_router)
api_router.include_router(jobs_router)
api_router.include_router(commerce_router)
api_router.include_router(analytics_router)
api_router.include_router(rfm_router)
api_router.include_router(clv_router)
api_router.include_router(dashboards_router)
api_router.include_router(segments_router)
api_router.include_router(messaging_router)
api_router.include_router(acquisition_router)
api_router.include_router(materials_router)
api_router.include_router(console_router)
api_router.include_router(wecom_router)
api_router.include_router(wecom_check_router)
api_router.include_router(wecom_sync_router)
api_router.include_router(share_chains_router)
api_router.include_router(wecom_group_router)
api_router.include_router(demo_router)
api_router.include_router(demo_responses_router)

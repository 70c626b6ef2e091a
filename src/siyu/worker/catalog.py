"""Every domain's job handlers, imported so a worker process knows them all."""

import importlib

JOB_MODULES = (
    "siyu.db.jobs",
    "siyu.customers.jobs",
    "siyu.tags.jobs",
    "siyu.commerce.jobs",
    "siyu.connectors.wecom.jobs",
    "siyu.connectors.wecom.sync_jobs",
    "siyu.acquisition.jobs",
    "siyu.workspace.jobs",
    "siyu.segments.jobs",
    "siyu.events.jobs",
    "siyu.analytics.feature_jobs",
    "siyu.analytics.clv_jobs",
    "siyu.content.materials_jobs",
    "siyu.messaging.jobs",
    "siyu.messaging.receipt_jobs",
)


def load_job_handlers() -> None:
    for module in JOB_MODULES:
        importlib.import_module(module)

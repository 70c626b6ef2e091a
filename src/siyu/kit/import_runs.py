"""What an import job reports when it ends, for every kind of import."""

from typing import Any

from siyu.models import ImportRun


def outcome(run: ImportRun) -> dict[str, Any]:
    return {
        "import_run_id": run.id,
        "status": run.status,
        "imported": run.imported,
        "updated": run.updated,
        "failed": run.failed,
        "errors_path": run.errors_path,
        "message": run.message,
    }

"""What an import job reports when it ends, and how it runs, for every kind of import."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager
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


# Allocations between young-generation collections while an import runs (Python: 700).
IMPORT_GC_THRESHOLD = 50_000


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Collect cyclic garbage less often while an import builds many short-lived objects.

    An import chunk allocates hundreds of thousands of rows, dicts and tuples that are
    freed by reference counting; at the default threshold the cyclic collector runs every
    700 allocations and rescans the survivors, a large share of an import's time.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], IMPORT_GC_THRESHOLD), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)

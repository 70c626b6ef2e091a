"""Any chart's table as CSV: UTF-8 with a BOM, so Excel opens the Chinese correctly."""

import codecs
import csv
import io
from collections.abc import Sequence

from fastapi.responses import Response


def csv_response(
    filename: str, header: Sequence[str], rows: Sequence[Sequence[object]]
) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return Response(
        codecs.BOM_UTF8 + buffer.getvalue().encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

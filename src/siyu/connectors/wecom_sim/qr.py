"""The PNG behind a contact way's qr_code URL."""

import io

import segno


def qr_png(content: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(content, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()

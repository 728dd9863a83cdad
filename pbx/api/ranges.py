"""Serving stored audio with HTTP range requests (RFC 9110 section 14): browsers and apps seek
in a voicemail without downloading it whole."""

import re

from django.core.files import File
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")  # not \d: int() of a Unicode digit


def ranged_file_response(
    request: HttpRequest, file: File, *, content_type: str, filename: str, download: bool
) -> HttpResponseBase:
    size = file.size
    header = request.headers.get("Range", "")
    match = _RANGE.match(header.strip()) if header else None
    disposition = f'{"attachment" if download else "inline"}; filename="{filename}"'
    if match is None or not (match.group(1) or match.group(2)):
        whole = FileResponse(file.open("rb"), content_type=content_type)
        whole["Accept-Ranges"] = "bytes"
        whole["Content-Disposition"] = disposition
        return whole
    first, last = match.group(1), match.group(2)
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:  # the last N bytes
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        unsatisfiable = HttpResponse(status=416)
        unsatisfiable["Content-Range"] = f"bytes */{size}"
        return unsatisfiable
    with file.open("rb") as handle:
        handle.seek(start)
        body = handle.read(end - start + 1)
    response = HttpResponse(body, status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = disposition
    return response

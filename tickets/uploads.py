"""Checking an uploaded attachment before anything is stored: its size, and
its type judged by its content (magic bytes, or strict UTF-8 text), which
must also agree with the extension of its name."""

import codecs
import html
import re
import secrets
from dataclasses import dataclass
from pathlib import PurePosixPath

import filetype
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import DataAndFiles

from config.env import env_int
from config.parsers import MultiPartParser

# content type: extensions a file of that type may carry
ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".log", ""),
    "text/csv": (".csv",),
}
ALLOWED_SENTENCE = "upload a PNG, JPEG, GIF, PDF, plain-text (UTF-8) or CSV file"
# Text may hold tabs, line breaks and form feeds, but no other control character.
_FORBIDDEN_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def attachment_max_bytes() -> int:
    return env_int("TICKET_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1)


@dataclass(frozen=True)
class CheckedUpload:
    original_name: str
    stored_name: str
    content_type: str
    size: int


def _name_problem(name: str) -> str | None:
    if "/" in name or "\\" in name or name in {".", ".."}:
        return f"The file name {name!r} contains a path; send the bare file name."
    if any(not char.isprintable() for char in name):
        return "The file name contains control characters; rename the file."
    return None


def _is_utf8_text(upload: UploadedFile) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        for chunk in upload.chunks():
            text = decoder.decode(chunk)
            if _FORBIDDEN_CONTROLS.search(text):
                return False
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        upload.seek(0)
    return True


def _detect_type(upload: UploadedFile, extension: str) -> str | None:
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    if _is_utf8_text(upload):
        return "text/csv" if extension == ".csv" else "text/plain"
    return None


def upload_check(*, upload: UploadedFile) -> CheckedUpload:
    """Raise a 400 naming what to fix, or describe how to store the file."""
    name = upload.name or ""
    problem = _name_problem(name)
    if problem:
        raise ValidationError({"file": [problem]})
    limit = attachment_max_bytes()
    if upload.size > limit:
        raise ValidationError(
            {"file": [f"The file is {upload.size} bytes; the limit is {limit} bytes."]}
        )
    if upload.size == 0:
        raise ValidationError({"file": ["The file is empty; choose a file with content."]})
    extension = PurePosixPath(name).suffix.lower()
    content_type = _detect_type(upload, extension)
    if content_type not in ALLOWED_TYPES:
        detected = content_type or "binary data of an unknown type"
        raise ValidationError({"file": [f"The file contains {detected}; {ALLOWED_SENTENCE}."]})
    if extension not in ALLOWED_TYPES[content_type]:
        raise ValidationError(
            {
                "file": [
                    f"The file contains {content_type} but its name ends in "
                    f"{extension or 'nothing'}; rename it to {ALLOWED_TYPES[content_type][0]}."
                ]
            }
        )
    stored = f"{secrets.token_hex(16)}{ALLOWED_TYPES[content_type][0]}"
    return CheckedUpload(
        original_name=name[:255], stored_name=stored, content_type=content_type, size=upload.size
    )


class _NameCheckingDjangoParser(DjangoMultiPartParser):
    """Django silently strips directories from uploaded file names; we refuse
    such a name instead, so a hostile upload gets a 400 and nothing is kept."""

    def sanitize_file_name(self, file_name):
        raw = html.unescape(file_name or "")
        problem = _name_problem(raw) if raw else None
        if problem:
            raise MultiPartParserError(problem)
        return super().sanitize_file_name(file_name)


class AttachmentUploadParser(MultiPartParser):
    def parse_multipart(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context["request"]
        encoding = parser_context.get("encoding", "utf-8")
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        try:
            parser = _NameCheckingDjangoParser(meta, stream, request.upload_handlers, encoding)
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(str(exc)) from exc
        return DataAndFiles(data, files)


def attachment_response(*, attachment) -> FileResponse:
    """An attachment as a download that no browser renders as a page of ours,
    whatever its content: the API's and the website's downloads both answer
    with this. `sandbox` keeps a forged HTML or SVG file from running script
    with the site's cookies; `nosniff` keeps the declared type."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response

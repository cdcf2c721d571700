"""Public pages served from bytes prebuilt by Django, before Django.

During an outage everyone reloads the status page. A full Django request
per visitor (request object, a dozen middleware, the view, the template)
costs a few milliseconds of CPU, so 200 visitors at once queue for a
second on two cores. This WSGI wrapper answers GET and HEAD of a few paths
(`PREBUILT_PATHS`: the public status documents, the same for everyone) from
a copy of Django's own response for that path: status, body and every
header Django sent (security headers, content type, Cache-Control, ETag,
Last-Modified), with a 304 to a matching If-None-Match or If-Modified-Since.

The copy is rebuilt at most every `PREBUILT_SECONDS` (10 by default), by
one thread at a time per process (single-flight): the first visitor after
it expires is served the previous copy while the process's refresher
thread asks Django for a new one; a cold start makes the other visitors
wait for the one copy being built. Django's own cache then decides what
the rebuild costs the database (the status document: one query per
period); the refresher keeps its connection, so no reconnection or health
check adds to it.

Only requests Django would answer with that same page are served from the
copy: a host Django accepts (ALLOWED_HOSTS), over HTTPS when Django
redirects plain HTTP, without a query string, and, for a response that
varies on Accept (the JSON API), per Accept header (a few kept per path).
Everything else goes to Django as usual. Answers from the copy are not
logged one line each (like health probes); each gets its own X-Request-ID.
"""

import hashlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.db import close_old_connections, connections
from django.urls import set_script_prefix
from django.utils.http import http_date, parse_etags, parse_http_date_safe

logger = logging.getLogger(__name__)

# Request headers that never reach the rebuild: it must be the page anyone
# gets, never one made for this visitor (or a 304).
_PERSONAL = ("HTTP_COOKIE", "HTTP_AUTHORIZATION", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")
# Response headers not copied: per request, or personal.
_NOT_COPIED = {"x-request-id", "set-cookie"}
# What a 304 leaves out of the copy's headers (as Django's 304 does).
_NOT_IN_304 = {"content-type", "content-length", "content-security-policy", "allow"}
_ACCEPT_VARIANTS = 8
# What Django's host validation and HTTPS redirect read from a request.
_HOST_AND_SCHEME = (
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PROTO",
)


@dataclass(frozen=True)
class Copy:
    headers: list[tuple[str, str]]
    body: bytes
    etag: str
    last_modified: int | None
    built: float

    def not_modified_headers(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.headers if k.lower() not in _NOT_IN_304]


def prebuilt_seconds() -> float:
    return float(settings.PREBUILT_SECONDS)


class PrebuiltPages:
    def __init__(
        self,
        app: Callable,
        *,
        paths: Iterable[str],
        seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self.app = app  # Django's WSGIHandler
        self.paths = frozenset(paths)
        self.seconds = seconds
        self.clock = clock
        self.background = background
        self._copies: dict[tuple[str, str], Copy] = {}
        self._varies_on_accept: set[str] = set()
        self._not_cached: set[tuple[str, str]] = set()
        self._locks = {path: threading.Lock() for path in self.paths}
        self._verdicts: dict[tuple, bool] = {}
        proxy_header = settings.SECURE_PROXY_SSL_HEADER
        self._host_and_scheme = _HOST_AND_SCHEME + ((proxy_header[0],) if proxy_header else ())
        self._state = threading.Lock()
        self._pending: set[tuple[str, str]] = set()
        self._wanted: queue.SimpleQueue = queue.SimpleQueue()
        self._refresher: threading.Thread | None = None
        self.builds = 0

    # --- serving -------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable):
        copy = self._copy_for(environ) if self._candidate(environ) else None
        if copy is None:
            return self.app(environ, start_response)
        request_id = environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex[:16]
        if self._not_modified(environ, copy):
            start_response(
                "304 Not Modified", [*copy.not_modified_headers(), ("X-Request-ID", request_id)]
            )
            return [b""]
        start_response("200 OK", [*copy.headers, ("X-Request-ID", request_id)])
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [copy.body]

    def _candidate(self, environ: dict) -> bool:
        path = environ.get("PATH_INFO", "")
        if (
            path not in self.paths
            or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or environ.get("QUERY_STRING")
        ):
            return False
        return self._django_would_answer(environ)

    def _django_would_answer(self, environ: dict) -> bool:
        """The host is one Django accepts, and the scheme one it does not
        redirect: Django's own checks, remembered per distinct value."""
        seen = tuple(environ.get(name) for name in self._host_and_scheme)
        verdict = self._verdicts.get(seen)
        if verdict is None:
            request = WSGIRequest(environ)
            try:
                request.get_host()
                verdict = not (settings.SECURE_SSL_REDIRECT and not request.is_secure())
            except DisallowedHost:
                verdict = False  # Django answers 400
            if len(self._verdicts) < 256:
                self._verdicts[seen] = verdict
        return verdict

    def _key(self, environ: dict) -> tuple[str, str] | None:
        path = environ["PATH_INFO"]
        if path not in self._varies_on_accept:
            return (path, "")
        accept = environ.get("HTTP_ACCEPT", "")
        key = (path, accept)
        known = list(self._copies)  # other threads may add to it meanwhile
        if key not in self._copies and sum(k[0] == path for k in known) >= _ACCEPT_VARIANTS:
            return None
        return key

    @staticmethod
    def _not_modified(environ: dict, copy: Copy) -> bool:
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match:
            tags = parse_etags(if_none_match)
            return tags == ["*"] or copy.etag.removeprefix("W/") in {
                t.removeprefix("W/") for t in tags
            }
        since_header = environ.get("HTTP_IF_MODIFIED_SINCE")
        since = parse_http_date_safe(since_header) if since_header else None
        return since is not None and copy.last_modified is not None and copy.last_modified <= since

    # --- the copies -------------------------------------------------------------------

    def _period(self) -> float:
        return self.seconds if self.seconds is not None else prebuilt_seconds()

    def _copy_for(self, environ: dict) -> Copy | None:
        key = self._key(environ)
        if key is None or key in self._not_cached:
            return None
        copy = self._copies.get(key)
        if copy is not None:
            if self.clock() - copy.built >= self._period():
                self._refresh(key, environ)
            return copy
        # Cold: one thread builds, the others wait for its copy.
        with self._locks[key[0]]:
            copy = self._copies.get(key)
            if copy is None:
                copy = self._build(key, environ)
        return copy

    def _refresh(self, key: tuple[str, str], environ: dict) -> None:
        """Rebuild a stale copy once, in the background (a request is
        answered with the stale copy meanwhile)."""
        with self._state:
            if key in self._pending:
                return  # someone is rebuilding it already
            self._pending.add(key)
            if self.background and (self._refresher is None or not self._refresher.is_alive()):
                # One thread per process, started by the first request after the
                # fork, keeps one database connection from one rebuild to the next.
                self._refresher = threading.Thread(
                    target=self._refresh_forever, name="prebuilt-pages", daemon=True
                )
                self._refresher.start()
        if self.background:
            self._wanted.put((key, self._clean_environ(environ)))
        else:
            self._rebuild(key, environ)

    def _refresh_forever(self) -> None:
        while (wanted := self._wanted.get()) is not None:
            self._rebuild(*wanted)
        connections.close_all()  # the refresher's own connection

    def close(self) -> None:
        """Stop the refresher thread (it closes its database connection)."""
        if self._refresher is not None and self._refresher.is_alive():
            self._wanted.put(None)
            self._refresher.join(timeout=10)

    def _rebuild(self, key: tuple[str, str], environ: dict) -> None:
        try:
            with self._locks[key[0]]:
                copy = self._build(key, environ)
        except Exception:
            logger.exception("rebuilding the copy of %s failed", key[0])
            copy = None
        finally:
            with self._state:
                self._pending.discard(key)
        if copy is None:
            # A failed rebuild may have left a broken connection: drop it, so
            # the next one reconnects (no health check query on each rebuild).
            close_old_connections()

    def _clean_environ(self, environ: dict) -> dict:
        clean = {
            k: v for k, v in environ.items() if k not in _PERSONAL and not k.startswith("wsgi.")
        }
        clean.update(
            {
                "REQUEST_METHOD": "GET",
                "QUERY_STRING": "",
                "CONTENT_LENGTH": "0",
                "wsgi.input": BytesIO(b""),
                "wsgi.url_scheme": environ.get("wsgi.url_scheme", "http"),
                "wsgi.errors": environ.get("wsgi.errors"),
            }
        )
        return clean

    def _build(self, key: tuple[str, str], environ: dict) -> Copy | None:
        """Ask Django for the page as anyone gets it; keep a copy of a 200."""
        self.builds += 1
        clean = self._clean_environ(environ)
        set_script_prefix(get_script_name(clean))
        response = self.app.get_response(WSGIRequest(clean))
        path = key[0]
        if response.status_code != 200:
            return None  # Django answers until a rebuild succeeds (a stale copy still serves)
        vary = {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}
        if "accept" in vary:
            self._varies_on_accept.add(path)
            key = (path, environ.get("HTTP_ACCEPT", ""))
        # The paths are pages the same for everyone, so Vary: Cookie (added
        # because the request log looks at request.user) changes nothing; a
        # response varying on anything but Accept, or setting a cookie, is
        # personal after all and left to Django.
        if response.streaming or response.cookies or vary - {"accept", "cookie"}:
            self._not_cached.add(key)
            return None
        body = response.content
        headers = [(k, v) for k, v in response.items() if k.lower() not in _NOT_COPIED]
        etag = response.get("ETag") or f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
        if not response.has_header("ETag"):
            headers.append(("ETag", etag))
        last_modified = parse_http_date_safe(response.get("Last-Modified") or "")
        if last_modified is None:
            last_modified = int(time.time())
            headers.append(("Last-Modified", http_date(last_modified)))
        copy = Copy(headers, body, etag, last_modified, self.clock())
        self._copies[key] = copy
        return copy

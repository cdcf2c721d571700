"""The public status documents answered before Django from a copy of
Django's own response: the same bytes and headers, no database query per
visitor, 304s, one rebuild at a time, and Django still answering whatever
it would answer differently."""

import io
import sys
import threading
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.prebuilt import PrebuiltPages
from config.wsgi import django_application
from incidents.public_status import public_status_forget
from incidents.tests import outage_helpers as make

PATHS = ["/status/", "/api/status/", "/status/feed.atom"]
SECURITY_HEADERS = ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy")


@pytest.fixture(autouse=True)
def fresh_status():
    public_status_forget()
    cache.clear()
    yield
    public_status_forget()


def environ(path: str, method: str = "GET", **headers) -> dict:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        **headers,
    }


def call(app, path: str, method: str = "GET", **headers) -> tuple[int, dict, bytes]:
    """What a WSGI server would send back for one request."""
    answer = {}

    def start_response(status, header_list):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(header_list)

    body = b"".join(app(environ(path, method, **headers), start_response))
    return answer["status"], answer["headers"], body


class SlowDjango:
    """Django, taking a moment to answer: lets visitors arrive during a build."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def get_response(self, request):
        time.sleep(self.seconds)
        return django_application.get_response(request)

    def __call__(self, environ, start_response):
        return django_application(environ, start_response)


@pytest.fixture
def outage(db):
    return make.outage("Fibre cut in Tver", scope={"location": ["Tver"]})


@pytest.mark.django_db
class TestTheCopy:
    @pytest.mark.parametrize("path", PATHS)
    def test_it_is_django_s_own_page_with_its_headers(self, client, outage, path):
        app = PrebuiltPages(django_application, paths=PATHS, background=False)
        status, headers, body = call(app, path)
        django = client.get(path)
        assert status == 200 and app.builds == 1
        assert body == django.content
        assert outage.title.encode() in body
        for name in ("Content-Type", "Cache-Control", "ETag", "Last-Modified", *SECURITY_HEADERS):
            assert headers[name] == django[name], name
        assert headers["Content-Length"] == str(len(body))
        assert headers["X-Request-ID"]
        if path == "/status/":
            assert headers["Content-Security-Policy"] == django["Content-Security-Policy"]

    def test_a_crowd_costs_no_query_and_no_rebuild(self, outage):
        app = PrebuiltPages(django_application, paths=PATHS, background=False)
        for path in PATHS:
            call(app, path)
        with CaptureQueriesContext(connection) as queries:
            answers = [call(app, path) for _ in range(100) for path in PATHS]
        assert len(queries) == 0
        assert app.builds == len(PATHS)
        assert {status for status, _, _ in answers} == {200}
        request_ids = {headers["X-Request-ID"] for _, headers, _ in answers}
        assert len(request_ids) == len(answers)

    def test_a_visitor_who_has_it_gets_304_and_head_gets_no_body(self, outage):
        app = PrebuiltPages(django_application, paths=PATHS, background=False)
        _, headers, body = call(app, "/status/")
        status, again, empty = call(app, "/status/", HTTP_IF_NONE_MATCH=headers["ETag"])
        assert (status, empty) == (304, b"")
        assert again["ETag"] == headers["ETag"] and "Content-Type" not in again
        assert again["X-Frame-Options"] == "DENY"
        since = call(app, "/status/", HTTP_IF_MODIFIED_SINCE=headers["Last-Modified"])
        assert since[0] == 304
        assert call(app, "/status/", HTTP_IF_NONE_MATCH='"something-else"')[0] == 200
        status, head_headers, head_body = call(app, "/status/", method="HEAD")
        assert (status, head_body) == (200, b"")
        assert head_headers["Content-Length"] == str(len(body))

    def test_django_answers_what_it_would_answer_differently(self, outage):
        app = PrebuiltPages(django_application, paths=PATHS, background=False)
        call(app, "/status/")
        assert call(app, "/status/", HTTP_HOST="evil.example")[0] == 400
        assert call(app, "/status/", method="POST")[0] == 403  # no CSRF token
        assert app.builds == 1
        assert call(app, "/status")[0] == 301  # not one of the paths: Django adds the slash
        assert call(app, "/status/", QUERY_STRING="page=2")[0] == 200
        assert app.builds == 1

    def test_a_response_made_for_the_visitor_is_never_copied(self, outage):
        """The API's browsable HTML sets a CSRF cookie: Django answers it each
        time; its JSON, the same for everyone, is served from the copy."""
        app = PrebuiltPages(django_application, paths=PATHS, background=False)
        _, json_headers, _ = call(app, "/api/status/", HTTP_ACCEPT="application/json")
        assert json_headers["Content-Type"] == "application/json"
        for _ in range(2):
            status, headers, body = call(app, "/api/status/", HTTP_ACCEPT="text/html")
            assert status == 200 and headers["Content-Type"].startswith("text/html")
            assert "csrftoken=" in headers["Set-Cookie"]
        assert app.builds == 2  # the JSON once, the HTML once (then left to Django)
        with CaptureQueriesContext(connection) as queries:
            again = call(app, "/api/status/", HTTP_ACCEPT="application/json")
        assert again[1]["ETag"] == json_headers["ETag"] and len(queries) == 0

    def test_it_is_not_stale_for_longer_than_its_period(self, outage):
        now = [1000.0]
        app = PrebuiltPages(django_application, paths=PATHS, clock=lambda: now[0], background=False)
        call(app, "/api/status/")
        now[0] += 9
        call(app, "/api/status/")
        assert app.builds == 1
        now[0] += 2
        call(app, "/api/status/")
        assert app.builds == 2


@pytest.mark.django_db(transaction=True)
def test_a_cold_start_builds_once_for_a_crowd_arriving_together(outage):
    app = PrebuiltPages(SlowDjango(0.3), paths=PATHS)
    bodies: list[bytes] = []

    def visitor():
        try:
            bodies.append(call(app, "/status/")[2])
        finally:
            connection.close()

    crowd = [threading.Thread(target=visitor) for _ in range(12)]
    for thread in crowd:
        thread.start()
    for thread in crowd:
        thread.join()
    assert app.builds == 1
    assert len(bodies) == 12 and len(set(bodies)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_stale_copy_serves_at_once_while_one_thread_rebuilds_it(outage):
    now = [1000.0]
    app = PrebuiltPages(SlowDjango(0.3), paths=PATHS, clock=lambda: now[0])
    try:
        first = call(app, "/status/")[2]
        now[0] += 11
        started = time.perf_counter()
        answers = [call(app, "/status/")[2] for _ in range(50)]
        assert time.perf_counter() - started < 0.3  # nobody waited for the rebuild
        assert set(answers) == {first}
        deadline = time.monotonic() + 10
        while app.builds < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.4)
        assert app.builds == 2
    finally:
        app.close()


def test_the_process_environment_never_reaches_a_request(db):
    """A server that starts each request's environ from the process's own
    environment: Django sees the request, not the secret key or the
    database URL; a header the request sent is kept."""
    from config.wsgi import without_process_environment

    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    inherited = {"SECRET_KEY": "not-for-requests", "DATABASE_URL": "postgres://u:pw@db/p"}
    request = environ("/status/", HTTP_X_REQUEST_ID="abc") | inherited
    without_process_environment(app, inherited)(request, lambda *args: None)

    assert "SECRET_KEY" not in seen and "DATABASE_URL" not in seen
    assert seen["HTTP_X_REQUEST_ID"] == "abc" and seen["PATH_INFO"] == "/status/"

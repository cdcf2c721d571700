"""The public status page and its Atom feed: for anyone, from the cached
status document (incidents.public_status), so a crowd of visitors during an
outage costs the database at most one query per STATUS_CACHE_SECONDS. With
ETag and Last-Modified, and a 304 to a visitor who has the current one;
under the WSGI server config.prebuilt answers most visitors before Django."""

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.http import conditional_page

from incidents.public_status import public_status, status_headers

_STATUS_WORDS = {
    "investigating": "Investigating",
    "identified": "Cause identified",
    "monitoring": "Fix applied, monitoring",
    "resolved": "Resolved",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
}


def _for_display(incident: dict) -> dict:
    return {
        **incident,
        "status_words": _STATUS_WORDS.get(incident["status"], incident["status"]),
        "latest": incident["updates"][-1] if incident["updates"] else None,
        "earlier": list(reversed(incident["updates"][:-1])),
    }


# The page and the feed are the same for every visitor, so each process
# renders them once per document build and serves the bytes after that.
_rendered: dict[str, tuple[object, bytes]] = {}


def _once_per_build(name: str, document: dict, render_bytes) -> bytes:
    built, content = _rendered.get(name, (None, b""))
    if built != document["built_at"]:
        content = render_bytes(document)
        _rendered[name] = (document["built_at"], content)
    return content


def _page_bytes(document: dict) -> bytes:
    incidents = [_for_display(i) for i in document["incidents"]]
    context = {
        "outages": [i for i in incidents if i["kind"] == "outage"],
        "maintenance": [i for i in incidents if i["kind"] == "maintenance"],
        "built_at": document["built_at"],
    }
    return render_to_string("web/status/status.html", context).encode()


def _status_response(name: str, render_bytes, content_type: str) -> HttpResponse:
    document = public_status()
    content = _once_per_build(name, document, render_bytes)
    response = HttpResponse(content, content_type=content_type)
    return status_headers(response, built_at=document["built_at"])


@conditional_page
def status_page_view(request):
    return _status_response("page", _page_bytes, "text/html; charset=utf-8")


@conditional_page
def status_feed_view(request):
    return _status_response("feed", _feed_bytes, "application/atom+xml; charset=utf-8")


def _feed_bytes(document: dict) -> bytes:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    feed = Atom1Feed(
        title="Service status",
        link=f"{base}/status/",
        description="Outages and planned maintenance, as they are updated.",
        feed_url=f"{base}/status/feed.atom",
        feed_guid=f"{base}/status/feed.atom",
        author_name="Service status",
        language="en",
    )
    for item in document["feed"]:
        incident, update = item["incident"], item["update"]
        where = ", ".join(incident["locations"] + incident["service_types"])
        title = f"{incident['title']}: {_STATUS_WORDS.get(update['status'], update['status'])}"
        feed.add_item(
            title=title,
            link=f"{base}/status/#{incident['number']}",
            description=update["body"] + (f"\n\nAffected: {where}" if where else ""),
            unique_id=f"{base}/status/#{incident['number']}/{update['created_at'].isoformat()}",
            unique_id_is_permalink=False,
            pubdate=update["created_at"],
            updateddate=update["created_at"],
            categories=[incident["kind"]],
        )
    return feed.writeString("utf-8").encode()

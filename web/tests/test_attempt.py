"""A page's call of a service comes back as one kind of answer."""

from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory
from rest_framework.exceptions import ValidationError

from web.errors import Attempt, attempt


def _request():
    request = RequestFactory().post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_a_refusal_is_a_false_attempt_with_its_sentence_on_the_page():
    request = _request()

    def refuse():
        raise ValidationError({"end_at": ["The end must come after the start."]})

    result = attempt(request, refuse, success="Saved.")
    assert result == Attempt(ok=False) and not result
    assert [str(m) for m in get_messages(request)] == ["end_at: The end must come after the start."]


def test_a_service_that_answers_zero_or_nothing_still_succeeded():
    """Retrying a notification with no failed messages answers 0: a success
    the page reports, not a refusal."""
    request = _request()
    zero = attempt(request, lambda: 0, success="Done.")
    nothing = attempt(request, lambda: None)
    assert zero and zero.value == 0
    assert nothing and nothing.value is None
    assert [str(m) for m in get_messages(request)] == ["Done."]

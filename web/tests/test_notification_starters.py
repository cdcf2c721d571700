"""Every starting text on the compose page saves as it is: none names a value
(like {{ end_at }}) that a notification without an end leaves empty."""

import pytest

from notifications.models import Notification
from web.notification_templates import STARTERS


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [k for k, text in STARTERS.items() if text["body"]])
def test_it_saves_each_starter_as_a_draft(web_client, engineer, kind):
    response = web_client(engineer).post(
        "/notifications/new/",
        {
            "kind": kind,
            **STARTERS[kind],
            "channels": ["email"],
            "everyone": "on",
            "action": "draft",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Notification.objects.get().body == STARTERS[kind]["body"]

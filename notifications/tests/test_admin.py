"""The admin shows notifications and messages; messages cannot be changed there."""

import pytest

from delivery import services
from delivery.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    from accounts.models import User

    return User.objects.create_superuser("root", "root@example.com", "pw-123456-long")


def test_staff_browse_notifications_and_messages_in_the_admin(client, superuser, make_notification):
    make_notification(title="Fiber cut")
    message = services.transactional_email_enqueue(to="a@example.com", subject="s", body="b")
    client.force_login(superuser)
    assert "Fiber cut" in client.get("/admin/notifications/notification/").content.decode()
    listing = client.get("/admin/delivery/message/")
    assert listing.status_code == 200 and "a@example.com" in listing.content.decode()
    page = client.get(f"/admin/delivery/message/{message.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.get("/admin/delivery/message/add/").status_code == 403
    client.post(f"/admin/delivery/message/{message.pk}/delete/", {"post": "yes"})
    assert Message.objects.filter(pk=message.pk).exists()
    assert client.get("/admin/delivery/outboxmessage/").status_code == 200

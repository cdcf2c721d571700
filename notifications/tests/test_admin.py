"""The admin shows notifications and messages; messages cannot be changed there."""

import pytest

from delivery import services
from delivery.models import Message

pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize("status", ["sending", "completed", "cancelled", "expired"])
def test_a_notification_that_went_out_is_read_only_in_the_admin(
    client, superuser, make_notification, status
):
    from notifications.models import Notification

    notification = make_notification(title="Fiber cut")
    Notification.objects.filter(pk=notification.pk).update(status=status)
    client.force_login(superuser)
    url = f"/admin/notifications/notification/{notification.pk}/"
    page = client.get(url + "change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    client.post(url + "change/", {"title": "Changed", "body": "Changed", "kind": "general"})
    assert client.get(url + "delete/").status_code == 403
    client.post(url + "delete/", {"post": "yes"})
    client.post(
        "/admin/notifications/notification/",
        {"action": "delete_selected", "_selected_action": [notification.pk], "post": "yes"},
    )
    notification.refresh_from_db()
    assert notification.title == "Fiber cut"


def test_a_draft_can_still_be_deleted_in_the_admin(client, superuser, make_notification):
    from notifications.models import Notification

    notification = make_notification(title="Typo")
    client.force_login(superuser)
    client.post(f"/admin/notifications/notification/{notification.pk}/delete/", {"post": "yes"})
    assert not Notification.objects.filter(pk=notification.pk).exists()


def test_the_admin_keeps_the_end_rules_of_the_api(client, superuser, make_notification):
    """The admin asks notifications.services.notification_times_check, as the
    API and the compose page do, and shows its sentence."""
    import datetime

    from django.utils import timezone

    notification = make_notification(title="Works")
    start = timezone.now() + datetime.timedelta(days=2)
    end = start - datetime.timedelta(hours=1)
    client.force_login(superuser)
    url = f"/admin/notifications/notification/{notification.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {
        name: form[name].value()
        for name in form.fields
        if form[name].value() is not None and name not in ("start_at", "end_at")
    }
    data.update(
        {
            "start_at_0": start.strftime("%Y-%m-%d"),
            "start_at_1": start.strftime("%H:%M:%S"),
            "end_at_0": end.strftime("%Y-%m-%d"),
            "end_at_1": end.strftime("%H:%M:%S"),
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "end_at must be after start_at." in response.content.decode()
    notification.refresh_from_db()
    assert notification.end_at is None
    data["end_at_0"] = (start + datetime.timedelta(hours=1)).strftime("%Y-%m-%d")
    data["end_at_1"] = (start + datetime.timedelta(hours=1)).strftime("%H:%M:%S")
    assert client.post(url, data).status_code == 302
    notification.refresh_from_db()
    assert notification.end_at is not None

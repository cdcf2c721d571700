"""Scheduled starts, end cut-offs, the daily report, tasks."""

import datetime

import pytest
from django.utils import timezone

from delivery import services as delivery
from delivery.models import Message, MessageStatus, OutboxMessage
from notifications import services, tasks
from notifications.models import Notification

pytestmark = pytest.mark.django_db
S = MessageStatus
N = Notification.Status


def test_a_scheduled_notification_starts_by_itself_once_its_time_has_come(
    make_customer, make_notification
):
    make_customer()
    make_customer()
    soon = timezone.now() + datetime.timedelta(minutes=5)
    notification = make_notification(start_at=soon)
    services.notification_send(notification=notification)
    notification.refresh_from_db()
    assert notification.status == N.SCHEDULED
    assert services.notification_start_due() == 0
    assert services.notification_start_due(now=soon + datetime.timedelta(seconds=1)) == 1
    notification.refresh_from_db()
    assert notification.status == N.SENDING and notification.materialized_at
    assert Message.objects.filter(status=S.PENDING).count() == 2
    assert services.notification_start_due(now=soon + datetime.timedelta(seconds=2)) == 0
    assert Message.objects.count() == 2


def test_the_audience_is_frozen_when_the_notification_starts(make_customer, make_notification):
    ann = make_customer(location="Moscow")
    notification = make_notification(audience={"location": ["Moscow"]})
    services.notification_send(notification=notification)
    ann.location = "Kazan"
    ann.save()
    make_customer(location="Moscow")
    delivery.message_batch_deliver()
    assert list(Message.objects.values_list("customer_id", flat=True)) == [ann.pk]


def test_a_lost_materialisation_is_redone_by_the_sweep(make_customer, make_notification):
    make_customer()
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    notification = make_notification(status=N.SENDING, started_at=long_ago)
    tasks.start_due_notifications()
    notification.refresh_from_db()
    assert notification.materialized_at and Message.objects.count() == 1


def test_messages_left_at_the_end_expire_and_the_notification_with_them(
    make_customer, make_notification
):
    make_customer()
    make_customer()
    end = timezone.now() + datetime.timedelta(hours=1)
    notification = make_notification(end_at=end)
    services.notification_send(notification=notification)
    delivery.message_batch_deliver(limit=1)
    services.notification_start_due(now=end + datetime.timedelta(seconds=1))
    assert sorted(Message.objects.values_list("status", flat=True)) == [S.EXPIRED, S.SENT]
    notification.refresh_from_db()
    assert notification.status == N.EXPIRED


def test_sending_after_the_end_is_refused(make_customer, make_notification):
    notification = make_notification(end_at=timezone.now() - datetime.timedelta(minutes=1))
    from config.exceptions import Conflict

    with pytest.raises(Conflict):
        services.notification_send(notification=notification)


def test_a_notification_with_nobody_to_tell_completes_at_once(make_notification):
    notification = make_notification(audience={"location": ["Nowhere"]})
    services.notification_send(notification=notification)
    notification.refresh_from_db()
    assert notification.status == N.COMPLETED


def test_the_daily_report_goes_to_every_admin(
    admin_user, engineer, make_customer, make_notification, settings
):
    from conftest import make_user

    make_user("zoe_admin", "admin")
    make_customer(email="gone@example.com")
    make_customer()
    notification = make_notification()
    services.notification_send(notification=notification)
    Message.objects.filter(to_address="gone@example.com").update(
        status=S.FAILED, last_error="SMTP 550 5.1.1 Mailbox unavailable"
    )
    delivery.message_batch_deliver()
    assert tasks.send_daily_report() == 2
    delivery.message_batch_deliver()
    reports = OutboxMessage.objects.filter(subject__startswith="Proactive daily report")
    assert sorted(r.to for r in reports) == [admin_user.email, "zoe_admin@example.com"]
    text = reports.first().body
    assert "Notifications started: 1 (completed 1)" in text
    assert "email sent: 1" in text and "email failed: 1" in text
    assert "1 × SMTP 550 5.1.1 Mailbox unavailable" in text


def test_a_quiet_day_says_so():
    subject, text = services.daily_report_text(now=timezone.now())
    assert subject.startswith("Proactive daily report")
    assert "Notifications started: 0" in text and text.count("none") == 2


def test_the_dispatch_task_and_the_drain_task_move_due_messages(
    make_customer, make_notification, django_capture_on_commit_callbacks, settings
):
    from delivery import tasks as delivery_tasks

    settings.CELERY_TASK_ALWAYS_EAGER = True
    make_customer()
    notification = make_notification()
    services.notification_send(notification=notification)
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert delivery_tasks.dispatch_due_messages() == 1
    finally:
        app.conf.task_always_eager = False
    assert Message.objects.get().status == S.SENT

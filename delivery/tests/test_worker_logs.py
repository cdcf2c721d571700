"""A real worker's output (not log records in memory): every message line
carries the ids one greps for, in key=value text and in JSON, on the console
and in PROACTIVE_LOG_FILE; Celery's own per-task lines stay out of it."""

import json

import pytest

from conftest import wait_until
from customers.models import Customer
from delivery import services
from delivery.models import Message, MessageStatus
from delivery.tests.conftest import started

pytestmark = pytest.mark.django_db(transaction=True)


def _send_through_a_worker(start_worker, make_customer, make_notification, **env):
    customer = make_customer()
    notification = started(make_notification())
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=["email"]
    )
    worker = start_worker(broker_url="filesystem://", extra_env=env)
    worker.send("delivery.tasks.drain_messages")
    message = wait_until(
        lambda: Message.objects.filter(status=MessageStatus.SENT).first(), timeout=90
    )
    return worker, customer, notification, message


def test_it_logs_each_message_with_its_ids_in_the_worker_output(
    start_worker, make_customer, make_notification
):
    worker, customer, notification, message = _send_through_a_worker(
        start_worker, make_customer, make_notification
    )

    def sent_line():
        return next((line for line in worker.log().splitlines() if "message sent" in line), None)

    line = wait_until(sent_line, timeout=10)
    assert f"message_id={message.pk}" in line
    assert f"notification_id={notification.pk}" in line
    assert f"customer_id={customer.pk}" in line
    assert "proactive.delivery" in line
    # Celery's own "Task … received/succeeded" lines are not in the output.
    assert "Task delivery.tasks.drain_messages" not in worker.log()


def test_it_logs_json_in_production_format_and_to_the_log_file(
    start_worker, make_customer, make_notification, tmp_path
):
    log_file = tmp_path / "logs" / "proactive.log"
    log_file.parent.mkdir()
    worker, customer, notification, message = _send_through_a_worker(
        start_worker,
        make_customer,
        make_notification,
        LOG_FORMAT="json",
        PROACTIVE_LOG_FILE=str(log_file),
    )

    def sent_records(text: str) -> list[dict]:
        records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        return [record for record in records if record.get("message") == "message sent"]

    [console] = wait_until(lambda: sent_records(worker.log()), timeout=10)
    [in_file] = wait_until(
        lambda: log_file.exists() and sent_records(log_file.read_text()), timeout=10
    )
    for record in (console, in_file):
        assert record["message_id"] == message.pk
        assert record["notification_id"] == notification.pk
        assert record["customer_id"] == customer.pk
        assert record["channel"] == "email"
        assert record["levelname"] == "INFO"

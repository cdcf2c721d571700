from delivery.tests.conftest import (  # noqa: F401
    _outbox_email,
    fiber,
    make_customer,
    make_notification,
)
from web.tests.conftest import web_client  # noqa: F401

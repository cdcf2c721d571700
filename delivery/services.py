"""The delivery pipeline's public face: what other apps (and delivery's own
tasks) call. The database is the queue, Celery only says "there is work";
see "The delivery pipeline" in the design notes and ARCHITECTURE.md.

Each step lives in a module of its own, in the order a message meets them:

- `delivery.enqueue`  writes Message rows (materialise, transactional, test copies)
- `delivery.bulk`     changes many of a notification's rows in one UPDATE
                      (supersede, cancel, retry failed, expire ended)
- `delivery.dispatch` beat and nudges → drain signals + drain tasks
- `delivery.lanes`    a drain task: lanes of batches
- `delivery.claims`   claim a batch (the lease), give it back
- `delivery.sending`  per message: check, render, fence, send, record
- `delivery.checks`   the pure checks (end, window, consent) → a Verdict
- `delivery.rendering` templates → what is sent, with threading headers
- `delivery.fence`    the cancel fence
- `delivery.recording` the outcome of each message, written by primary key
"""

from delivery.bulk import (
    messages_cancel,
    messages_cancel_rest,
    messages_expire_ended,
    messages_retry_failed,
    messages_supersede,
    messages_supersede_rest,
)
from delivery.claims import message_claim_batch, message_claims_expire
from delivery.dispatch import message_dispatch_due, message_nudge_on_commit
from delivery.enqueue import (
    TransactionalEmail,
    message_test_copy_send,
    messages_materialise,
    transactional_email_enqueue,
    transactional_emails_enqueue,
    transactional_sms_enqueue,
)
from delivery.fence import cancel_fence_close
from delivery.lanes import message_drain
from delivery.sending import message_batch_deliver, message_deliver_now

__all__ = [
    "TransactionalEmail",
    "cancel_fence_close",
    "message_batch_deliver",
    "message_claim_batch",
    "message_claims_expire",
    "message_deliver_now",
    "message_dispatch_due",
    "message_drain",
    "message_nudge_on_commit",
    "message_test_copy_send",
    "messages_cancel",
    "messages_cancel_rest",
    "messages_expire_ended",
    "messages_materialise",
    "messages_retry_failed",
    "messages_supersede",
    "messages_supersede_rest",
    "transactional_email_enqueue",
    "transactional_emails_enqueue",
    "transactional_sms_enqueue",
]

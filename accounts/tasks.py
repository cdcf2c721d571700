from celery import shared_task

from accounts import services


@shared_task
def purge_expired_tokens() -> int:
    """Expired API keys are useless; keep the table small."""
    return services.tokens_purge_expired()

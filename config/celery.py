import logging
import logging.config
import os

from celery import Celery
from celery.signals import setup_logging, task_failure, task_postrun, task_prerun, worker_init

from config import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

broker.use_for_filesystem_urls()
app = Celery("proactive")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

task_logger = logging.getLogger("proactive.task")


@setup_logging.connect
def _configure_logging(**_) -> None:
    """Workers and beat log exactly as the website does (settings.LOGGING:
    key=value text or JSON, the ids of each line, PROACTIVE_LOG_FILE).
    Connecting this signal stops Celery from installing its own handlers on
    the root logger, which dropped every record's ids."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


# Every task's start and end at DEBUG only: the dispatcher alone runs every
# two seconds. Tasks that do something log it themselves, with its ids.
@task_prerun.connect
def _log_task_start(task_id=None, task=None, args=None, kwargs=None, **_):
    task_logger.debug("task started %s", task.name, extra={"task_id": task_id, "task_args": args})


@task_postrun.connect
def _log_task_end(task_id=None, task=None, state=None, **_):
    task_logger.debug("task %s %s", state, task.name, extra={"task_id": task_id})


@task_failure.connect
def _log_task_failure(task_id=None, exception=None, sender=None, **_):
    task_logger.error(
        "task failed %s: %s", getattr(sender, "name", "?"), exception, extra={"task_id": task_id}
    )


@worker_init.connect
def _yield_to_the_website(**_) -> None:
    """A large send must not slow the engineers' console: a worker (and the
    pool processes it starts) runs at a lower CPU priority than the website
    (`WORKER_NICENESS`, 10 by default; 0 keeps them equal). The send loses
    little: whatever CPU the website does not use is still the workers'."""
    from django.conf import settings

    if settings.WORKER_NICENESS:
        os.nice(settings.WORKER_NICENESS)

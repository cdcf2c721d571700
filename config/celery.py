import logging
import os

from celery import Celery
from celery.signals import task_failure, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("proactive")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

task_logger = logging.getLogger("proactive.task")


@task_prerun.connect
def _log_task_start(task_id=None, task=None, args=None, kwargs=None, **_):
    task_logger.info("task started %s", task.name, extra={"task_id": task_id, "task_args": args})


@task_postrun.connect
def _log_task_end(task_id=None, task=None, state=None, **_):
    task_logger.info("task %s %s", state, task.name, extra={"task_id": task_id})


@task_failure.connect
def _log_task_failure(task_id=None, exception=None, sender=None, **_):
    task_logger.error(
        "task failed %s: %s", getattr(sender, "name", "?"), exception, extra={"task_id": task_id}
    )

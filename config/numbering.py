"""The number people quote for a record: a prefix and the id, zero-padded
(INC-000042, T-000042)."""

from django.db import models


def number_format(prefix: str, pk: int | None) -> str:
    return f"{prefix}-{pk:06d}" if pk else ""


class Numbered(models.Model):
    """A record people name by its number and title ("INC-000042 Fibre cut")."""

    NUMBER_PREFIX = ""

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        return number_format(self.NUMBER_PREFIX, self.pk)

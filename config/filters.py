"""Query-string ids checked before they reach the database.

An id outside what a database integer can hold (`?customer=99999999999999999999`)
would make SQLite raise OverflowError and PostgreSQL "out of range": a 500.
Every list filter that takes an id goes through here instead, so such a value
is a 400 naming the parameter."""

import django_filters
from rest_framework.exceptions import ValidationError

# Every primary key is a BigAutoField: a signed 64-bit integer.
ID_MAX = 2**63 - 1


def id_out_of_range(value: int) -> bool:
    return not 1 <= value <= ID_MAX


def ids_param(name: str, raw: str) -> list[int]:
    """`?name=1,2,3` → [1, 2, 3], or a 400 naming the parameter."""
    values = [value.strip() for value in raw.split(",") if value.strip()]
    if not values:
        raise ValidationError({name: ["Give at least one value."]})
    try:
        ids = [int(value) for value in values]
    except ValueError as exc:
        raise ValidationError({name: ["Give numeric ids, separated by commas."]}) from exc
    if any(id_out_of_range(value) for value in ids):
        raise ValidationError({name: [f"Ids are whole numbers from 1 to {ID_MAX}."]})
    return ids


def id_param(raw: str) -> int | None:
    """A single id from a website query string, or None when it is not one
    (the website ignores a filter it cannot read instead of failing)."""
    raw = (raw or "").strip()
    if not raw.isdigit():
        return None
    value = int(raw)
    return None if id_out_of_range(value) else value


class FilterSet(django_filters.FilterSet):
    """The base of every list filter: numeric filters (declared or generated
    from model fields) accept only values a database integer can hold, so an
    out-of-range number is a 400 naming the parameter, never a 500."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for filter_ in self.filters.values():
            if isinstance(filter_, django_filters.NumberFilter):
                # Each instance has its own copy of the filters, and the form
                # field is built lazily, from these bounds.
                filter_.extra.setdefault("min_value", -ID_MAX)
                filter_.extra.setdefault("max_value", ID_MAX)

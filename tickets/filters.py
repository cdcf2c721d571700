"""Query-string filters of the ticket and interaction lists. Filters that
take several values accept them comma-separated (`?status=open,assigned`)."""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from config.filters import ID_MAX, FilterSet, id_out_of_range, ids_param
from customers.models import ServiceType
from tickets import selectors
from tickets.models import ACTIVE_STATUSES, Interaction, Priority, Status, Ticket


def _values(name: str, raw: str) -> list[str]:
    values = [value.strip() for value in raw.split(",") if value.strip()]
    if not values:
        raise ValidationError({name: ["Give at least one value."]})
    return values


def _choices(name: str, raw: str, allowed: list[str]) -> list[str]:
    values = _values(name, raw)
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise ValidationError(
            {name: [f"Unknown value {', '.join(unknown)}; use one of {', '.join(allowed)}."]}
        )
    return values


def _ids(name: str, raw: str) -> list[int]:
    return ids_param(name, raw)


# Strict, so that `?active=maybe` is a 400 rather than silently ignored.
_BOOLEAN_CHOICES = [("true", "true"), ("false", "false"), ("1", "1"), ("0", "0")]


def _true(value: str) -> bool:
    return value in ("true", "1")


@extend_schema_field({"type": "string", "enum": [value for value, _ in _BOOLEAN_CHOICES]})
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, choices=_BOOLEAN_CHOICES, coerce=_true, **kwargs)


class TicketFilter(FilterSet):
    status = django_filters.CharFilter(
        method="filter_status", help_text="One or more of " + ", ".join(Status.values)
    )
    priority = django_filters.CharFilter(
        method="filter_priority", help_text="One or more of " + ", ".join(Priority.values)
    )
    assignee = django_filters.CharFilter(
        method="filter_assignee", help_text="User ids, `me`, or `none` for unassigned"
    )
    customer = django_filters.CharFilter(method="filter_customer", help_text="Customer ids")
    service_type = django_filters.CharFilter(
        method="filter_service_type", help_text="Service type ids or codes"
    )
    active = StrictBooleanFilter(
        method="filter_active", help_text="true: not resolved, closed or cancelled"
    )
    overdue = StrictBooleanFilter(
        method="filter_overdue", help_text="true: active and past its due time"
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")
    search = django_filters.CharFilter(
        method="filter_search", help_text="Title, description, number, customer name or account"
    )
    scope = django_filters.ChoiceFilter(
        choices=[("all", "all"), ("mine", "mine")],
        method="filter_scope",
        help_text="Engineers: `all` lists every ticket, not only theirs and unassigned ones",
    )

    class Meta:
        model = Ticket
        fields = []

    def filter_status(self, queryset, name, value):
        return queryset.filter(status__in=_choices(name, value, Status.values))

    def filter_priority(self, queryset, name, value):
        return queryset.filter(priority__in=_choices(name, value, Priority.values))

    def filter_assignee(self, queryset, name, value):
        query = Q()
        rest = []
        for item in _values(name, value):
            if item == "me":
                query |= Q(assignee=self.request.user)
            elif item == "none":
                query |= Q(assignee__isnull=True)
            else:
                rest.append(item)
        if rest:
            query |= Q(assignee_id__in=_ids(name, ",".join(rest)))
        return queryset.filter(query)

    def filter_customer(self, queryset, name, value):
        return queryset.filter(customer_id__in=_ids(name, value))

    def filter_service_type(self, queryset, name, value):
        values = _values(name, value)
        ids = [int(v) for v in values if v.isdigit()]
        if any(id_out_of_range(i) for i in ids):
            raise ValidationError({name: [f"Ids are whole numbers from 1 to {ID_MAX}."]})
        codes = [v for v in values if not v.isdigit()]
        if codes:
            ids += list(ServiceType.objects.filter(code__in=codes).values_list("pk", flat=True))
        return queryset.filter(service_type_id__in=ids)

    def filter_active(self, queryset, name, value):
        active = Q(status__in=ACTIVE_STATUSES)
        return queryset.filter(active if value else ~active)

    def filter_overdue(self, queryset, name, value):
        overdue = selectors.ticket_overdue_q()
        return queryset.filter(overdue if value else ~overdue)

    def filter_search(self, queryset, name, value):
        return selectors.ticket_search(queryset, term=value)

    def filter_scope(self, queryset, name, value):
        # The view narrows the list by scope before filtering; this declares it.
        return queryset


class InteractionFilter(FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=Interaction.Kind.choices)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Interaction
        fields = ["kind", "customer", "ticket", "created_by"]

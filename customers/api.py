"""Directory API: customers (with import/export and the customer's own
record), sites, service types and the audience preview."""

from collections.abc import Mapping

from django.http import StreamingHttpResponse
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import DETAIL_ERROR, INVALID_FIELDS
from accounts.models import Role, User
from accounts.permissions import (
    IsCustomer,
    IsCustomerReading,
    IsStaffMember,
    IsStaffReadAdminWrite,
)
from config.fields import HourMinuteField, IdField, OptionalEmailField
from config.parsers import FormParser, MultiPartParser
from customers import csv_io, selectors, services
from customers.filters import (
    CustomerFilter,
    CustomerSearchFilter,
    SiteFilter,
    TieBreakOrderingFilter,
)
from customers.models import PREFERENCE_FIELDS, Customer, ServiceType, Site
from customers.pagination import CustomerPagination
from customers.validation import FIELDS, CodeLookups, customer_clean

CODE_ERRORS = {"invalid": "Use a code without spaces or commas, e.g. MOS-POP1."}

# ---------------------------------------------------------------- customers


class CustomerSerializer(serializers.Serializer):
    """The contract's customer object. Input is validated by
    customers.validation, the same functions the CSV import uses."""

    id = serializers.IntegerField(read_only=True)
    account_number = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    email = OptionalEmailField(required=False)
    phone = serializers.CharField(
        required=False, allow_blank=True, help_text="E.164; 79001234567 is accepted."
    )
    operator_code = serializers.CharField(
        required=False, allow_blank=True, help_text="Derived from the phone unless given."
    )
    location = serializers.CharField(required=False, allow_blank=True)
    last_mile_site = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="Site code."
    )
    service_type = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="Service type code."
    )
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    timezone = serializers.CharField(required=False, help_text="IANA name, e.g. Europe/Moscow.")
    contact_window_start = HourMinuteField(required=False)
    contact_window_end = HourMinuteField(required=False)
    email_opt_in = serializers.BooleanField(required=False)
    sms_opt_in = serializers.BooleanField(required=False)
    marketing_opt_in = serializers.BooleanField(
        required=False, help_text="Consent to marketing messages; false unless the customer agrees."
    )
    is_active = serializers.BooleanField(required=False)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    editable_fields = FIELDS

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send the customer as a JSON object."]}
            )
        raw = {
            name: data[name]
            for name in self.editable_fields
            if name in data and name != "marketing_opt_in"
        }
        self._check_read_only(data)
        if self.instance is not None and not self.partial:
            missing = [n for n in ("account_number", "name") if n not in raw]
            if missing:
                raise serializers.ValidationError({n: ["This field is required."] for n in missing})
        current = None
        if self.instance is not None:
            current = {
                "contact_window_start": self.instance.contact_window_start,
                "contact_window_end": self.instance.contact_window_end,
            }
        values, errors = customer_clean(
            raw, lookups=CodeLookups(), creating=self.instance is None, current=current
        )
        if "marketing_opt_in" in data:
            try:
                values["marketing_opt_in"] = self.fields["marketing_opt_in"].to_internal_value(
                    data["marketing_opt_in"]
                )
            except serializers.ValidationError:
                errors["marketing_opt_in"] = ["Use true or false."]
        if errors:
            raise serializers.ValidationError(errors)
        return values

    def _check_read_only(self, data) -> None:
        """Overridden by the customer's own view, which may change less."""

    def create(self, validated_data):
        return services.customer_create(data=validated_data)

    def update(self, instance, validated_data):
        return services.customer_update(customer=instance, data=validated_data)

    def to_representation(self, instance: Customer | dict) -> dict:
        if isinstance(instance, dict):  # a row of selectors.customer_rows
            return selectors.customers_represent([instance])[0]
        row = {name: getattr(instance, name) for name in selectors.LIST_VALUES if "__" not in name}
        row["last_mile_site__code"] = (
            instance.last_mile_site.code if instance.last_mile_site_id else None
        )
        row["service_type__code"] = instance.service_type.code if instance.service_type_id else None
        return selectors.customer_represent(row, [t.name for t in instance.tags.all()])


ME_EDITABLE = ("email", "phone", *PREFERENCE_FIELDS, "marketing_opt_in")


class CustomerMeSerializer(CustomerSerializer):
    """A customer's own record: contact details and channel opt-ins only."""

    editable_fields = ME_EDITABLE
    pending_email = serializers.CharField(
        read_only=True,
        help_text=(
            "A new address waiting for its owner to follow the confirmation link emailed "
            "to it; `email` changes only then. Empty when none is waiting."
        ),
    )

    def update(self, instance, validated_data):
        return services.customer_update_own(customer=instance, data=validated_data)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["pending_email"] = instance.user.pending_email if instance.user_id else ""
        return data

    def _check_read_only(self, data) -> None:
        shown = self.to_representation(self.instance)
        locked = sorted(
            name
            for name, value in data.items()
            if name in shown and name not in ME_EDITABLE and value != shown[name]
        )
        if locked:
            raise serializers.ValidationError(
                {
                    name: [
                        "Only your contact details and opt-ins can be changed here; ask support."
                    ]
                    for name in locked
                }
            )


class LinkUserSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(role=Role.CUSTOMER),
        help_text="The id of a customer account.",
        error_messages={
            "does_not_exist": "No customer account has id {pk_value}; give a customer's user id.",
            "incorrect_type": "Give the user's numeric id.",
        },
    )


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, UTF-8, header row with the customer fields.")


IMPORT_RESULT = inline_serializer(
    "CustomerImportResult",
    {
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
        "rejected": serializers.ListField(
            child=inline_serializer(
                "CustomerImportRejectedRow",
                {"row": serializers.IntegerField(), "errors": serializers.DictField()},
            )
        ),
    },
)


class CustomerViewSet(viewsets.ModelViewSet):
    """Staff manage the directory; a customer reaches only `me`."""

    api_errors = {"destroy": {409}}

    serializer_class = CustomerSerializer
    permission_classes = [IsStaffMember]
    pagination_class = CustomerPagination
    filter_backends = [
        DjangoFilterBackend,
        CustomerSearchFilter,
        TieBreakOrderingFilter,
    ]
    filterset_class = CustomerFilter
    # The list is every customer before its filters: a search alone may read
    # the search copy (CustomerPagination).
    whole_directory = True
    search_fields = ["name", "email", "phone", "account_number"]
    ordering_fields = [
        "id",
        "name",
        "account_number",
        "location",
        "timezone",
        "created_at",
        "updated_at",
    ]
    ordering = ["name", "id"]

    def get_queryset(self):
        return selectors.customer_list()

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(Customer.objects.all()))
        return self.get_paginated_response(selectors.customers_represent(page))

    def page_rows(self, queryset):
        """What the pagination reads for a page: plain rows, not instances."""
        return selectors.customer_rows(queryset)

    def get_permissions(self):
        if self.action == "me":
            return [IsCustomer()]
        return super().get_permissions()

    def perform_destroy(self, instance):
        services.customer_delete(customer=instance)

    @extend_schema(
        request=CustomerMeSerializer,
        # 401 and 403 are documented for every operation; 404: no record is linked.
        responses={200: CustomerMeSerializer, 400: INVALID_FIELDS, 404: DETAIL_ERROR},
        description=(
            "The caller's own record. Changing `email` emails a confirmation link to the new "
            "address; the record keeps the old one (and shows the new one as `pending_email`) "
            "until it is followed."
        ),
    )
    @action(detail=False, methods=["get", "patch"], url_path="me")
    def me(self, request):
        customer = (
            selectors.customer_list().select_related("user").filter(user=request.user).first()
        )
        if customer is None:
            raise NotFound("No customer record is linked to your account; contact support.")
        if request.method == "GET":
            return Response(CustomerMeSerializer(customer).data)
        serializer = CustomerMeSerializer(customer, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        customer = selectors.customer_list().select_related("user").get(pk=customer.pk)
        return Response(CustomerMeSerializer(customer).data)

    @extend_schema(
        request=LinkUserSerializer,
        responses={
            200: CustomerSerializer,
            400: OpenApiResponse(description="`user` is missing, unknown or not a customer"),
            # 401, 403 and 404 are documented for every operation on one customer.
            409: DETAIL_ERROR,
        },
        description=(
            "Link a customer account to this record by hand, vouching for its address "
            "(it no longer needs to be confirmed). Recorded in the record's history."
        ),
    )
    @action(detail=True, methods=["post"], url_path="link-user")
    def link_user(self, request, pk=None):
        customer = self.get_object()
        serializer = LinkUserSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.customer_link_user_by_staff(
            customer=customer, user=serializer.validated_data["user"], actor=request.user
        )
        return Response(CustomerSerializer(selectors.customer_list().get(pk=customer.pk)).data)

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses={200: IMPORT_RESULT, 400: OpenApiResponse(description="malformed file")},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_csv(self, request):
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        upload.seek(0)
        result = csv_io.customer_import(stream=upload.file)
        return Response(result.as_dict())

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, filters=True)
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None)
    def export(self, request):
        queryset = self.filter_queryset(Customer.objects.all())
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(
            csv_io.customer_export_csv(queryset=queryset), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
        return response


# -------------------------------------------------------------------- sites


class SiteSerializer(serializers.ModelSerializer):
    code = serializers.RegexField(r"^[^,\s]+$", max_length=64, error_messages=CODE_ERRORS)
    parent = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Site.objects.all(),
        allow_null=True,
        required=False,
        error_messages={"does_not_exist": "Unknown site code {value!r}; create that site first."},
    )
    customer_count = serializers.SerializerMethodField(
        help_text="Customers of this site and every site beneath it (detail view only)."
    )

    class Meta:
        model = Site
        fields = ["id", "code", "name", "location", "parent", "depth", "customer_count"]
        read_only_fields = ["depth"]

    def get_customer_count(self, site: Site) -> int | None:
        if not self.context.get("with_counts"):
            return None
        return Customer.objects.filter(last_mile_site__path__startswith=site.path).count()

    def create(self, validated_data):
        return services.site_create(**validated_data)

    def update(self, instance, validated_data):
        return services.site_update(site=instance, data=validated_data)


class SiteViewSet(viewsets.ModelViewSet):
    api_errors = {"destroy": {409}}
    serializer_class = SiteSerializer
    permission_classes = [IsStaffReadAdminWrite]
    filterset_class = SiteFilter
    search_fields = ["code", "name", "location"]
    ordering_fields = ["path", "code", "name", "location", "depth"]
    ordering = ["path"]

    def get_queryset(self):
        return Site.objects.select_related("parent")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "with_counts": self.action == "retrieve"}

    def perform_destroy(self, instance):
        services.site_delete(site=instance)


class ServiceTypeSerializer(serializers.ModelSerializer):
    code = serializers.RegexField(r"^[^,\s]+$", max_length=64, error_messages=CODE_ERRORS)

    class Meta:
        model = ServiceType
        fields = ["id", "code", "name", "description"]

    def validate_code(self, value: str) -> str:
        others = ServiceType.objects.filter(code=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(f"A service type with code {value!r} already exists.")
        return value


class ServiceTypeViewSet(viewsets.ModelViewSet):
    """Everyone signed in reads the service catalogue; administrators change it."""

    api_errors = {"destroy": {409}}
    serializer_class = ServiceTypeSerializer
    permission_classes = [IsStaffReadAdminWrite | IsCustomerReading]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]
    ordering = ["code"]
    filterset_fields = ["code"]

    def get_queryset(self):
        return ServiceType.objects.all()

    def perform_destroy(self, instance):
        services.service_type_delete(service_type=instance)


# ---------------------------------------------------------------- audiences


class AudienceSerializer(serializers.Serializer):
    """An audience spec: filters AND-ed across fields, OR-ed within one; an
    empty list means "any"; customer_ids are added to the result. Every
    active customer is `{"all": true}`; an audience naming nothing is refused."""

    location = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    last_mile_site = serializers.ListField(
        child=serializers.CharField(), required=False, default=list
    )
    service_type = serializers.ListField(
        child=serializers.CharField(), required=False, default=list
    )
    tag = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    operator_code = serializers.ListField(
        child=serializers.CharField(), required=False, default=list
    )
    customer_ids = serializers.ListField(child=IdField(), required=False, default=list)
    all = serializers.BooleanField(
        required=False, default=False, help_text="Every active customer (the filters are ignored)."
    )

    def validate(self, attrs):
        if selectors.audience_is_empty(audience=attrs):
            raise serializers.ValidationError(selectors.EMPTY_AUDIENCE)
        return attrs

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [f"Unknown audience filter; use {', '.join(self.fields)}."]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)

    def _unknown(self, values: list[str], model, noun: str) -> list[str]:
        known = set(model.objects.filter(code__in=values).values_list("code", flat=True))
        missing = [v for v in values if v not in known]
        if missing:
            raise serializers.ValidationError(
                f"Unknown {noun} code(s): {', '.join(missing)}; check the spelling."
            )
        return values

    def validate_last_mile_site(self, value: list[str]) -> list[str]:
        return self._unknown(value, Site, "site")

    def validate_service_type(self, value: list[str]) -> list[str]:
        return self._unknown(value, ServiceType, "service type")

    def validate_customer_ids(self, value: list[int]) -> list[int]:
        ids = sorted(set(value))
        known = set(Customer.objects.filter(pk__in=ids).values_list("id", flat=True))
        missing = [str(i) for i in ids if i not in known]
        if missing:
            raise serializers.ValidationError(f"Unknown customer id(s): {', '.join(missing)}.")
        return ids


class AudiencePreviewRequestSerializer(serializers.Serializer):
    audience = AudienceSerializer()


AUDIENCE_PREVIEW = inline_serializer(
    "AudiencePreview",
    {
        "count": serializers.IntegerField(),
        "reachable": inline_serializer(
            "AudienceReachable",
            {"email": serializers.IntegerField(), "sms": serializers.IntegerField()},
        ),
        "by_site": serializers.DictField(child=serializers.IntegerField()),
        "by_service_type": serializers.DictField(child=serializers.IntegerField()),
        "by_timezone": serializers.DictField(child=serializers.IntegerField()),
        "sample": CustomerSerializer(many=True),
    },
)


class AudiencePreviewView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(request=AudiencePreviewRequestSerializer, responses={200: AUDIENCE_PREVIEW})
    def post(self, request):
        serializer = AudiencePreviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preview = selectors.audience_preview(audience=serializer.validated_data["audience"])
        return Response(preview, status=status.HTTP_200_OK)

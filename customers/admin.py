"""Django admin for the directory. Writes go through the same services and
validation as the API, so the admin cannot store what the API would refuse
(a site without its path, a phone that is not E.164)."""

from django import forms
from django.contrib import admin, messages
from rest_framework.exceptions import ValidationError

from config.exceptions import Conflict
from customers import services
from customers.models import Customer, ServiceType, Site, Tag
from customers.validation import FIELDS, FieldError, clean_email, clean_phone, clean_timezone


def _sentences(detail) -> list[str]:
    if isinstance(detail, dict):
        return [str(m) for messages_ in detail.values() for m in messages_]
    return [str(detail)]


class SiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "location", "parent", "depth"]
    list_filter = ["depth", "location"]
    search_fields = ["code", "name", "location"]
    readonly_fields = ["path", "depth"]
    autocomplete_fields = ["parent"]
    actions = None  # bulk delete would skip the "still has customers" check

    def save_model(self, request, obj, form, change):
        if not change:
            site = services.site_create(
                code=obj.code, name=obj.name, location=obj.location, parent=obj.parent
            )
            obj.pk, obj.path, obj.depth = site.pk, site.path, site.depth
            return
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        stored = Site.objects.get(pk=obj.pk)
        services.site_update(site=stored, data=data)

    def delete_model(self, request, obj):
        try:
            services.site_delete(site=obj)
        except Conflict as exc:
            messages.error(request, str(exc.detail))


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        # Every field the API writes (its rules apply below), and the account link.
        fields = [*FIELDS, "user"]

    def clean(self):
        data = super().clean()
        for name, clean in (("email", clean_email), ("timezone", clean_timezone)):
            if name in data:
                try:
                    data[name] = clean(data[name])
                except FieldError as exc:
                    self.add_error(name, str(exc))
        if "phone" in data:
            try:
                data["phone"], derived = clean_phone(data["phone"])
            except FieldError as exc:
                self.add_error("phone", str(exc))
            else:
                data["operator_code"] = data.get("operator_code") or derived
        return data


class CustomerAdmin(admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = ["account_number", "name", "email", "phone", "last_mile_site", "is_active"]
    list_filter = ["is_active", "service_type", "timezone"]
    search_fields = ["account_number", "name", "email", "phone"]
    autocomplete_fields = ["last_mile_site", "user"]
    filter_horizontal = ["tags"]
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False  # no COUNT(*) over a million rows per page

    def save_model(self, request, obj, form, change):
        """Choosing an account links it by hand: staff vouch for its address,
        and the link is recorded in the record's history."""
        account = obj.user if "user" in form.changed_data else None
        if account is not None:
            obj.user = None
        super().save_model(request, obj, form, change)
        if account is not None:
            try:
                services.customer_link_user_by_staff(customer=obj, user=account, actor=request.user)
            except (Conflict, ValidationError) as exc:
                messages.error(request, " ".join(_sentences(exc.detail)))
            else:
                obj.user = account


class ServiceTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


admin.site.register(Site, SiteAdmin)
admin.site.register(Customer, CustomerAdmin)
admin.site.register(ServiceType, ServiceTypeAdmin)
admin.site.register(Tag, TagAdmin)

"""The registry in the Django admin, for the platform administrator: read, search, filter.

Bodies, inspectors, certificates, enterprises, contacts and items are written only through the services
(validation and the audit log), i.e. on the registry pages; here they are read-only. Regions and fields have
no pages of their own and are edited here.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    Field,
    InspectionItem,
    InspectionStandard,
    Inspector,
    Region,
    StandardItem,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """View, search and filter; changes go through the registry pages and their services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")
    readonly_fields = ("path",)


@admin.register(Field)
class FieldAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(EnforcementBody)
class EnforcementBodyAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "body_type", "level", "region", "city_counterpart", "is_active")
    list_filter = ("body_type", "level", "is_active", "fields", "region")
    search_fields = ("code", "name")


class CertificateInline(ReadOnlyInline):
    model = Certificate
    fields = ("number", "valid_from", "valid_until", "status", "status_reason")
    show_change_link = True


@admin.register(Inspector)
class InspectorAdmin(ReadOnlyAdmin):
    list_display = ("name", "body", "employee_number", "phone", "is_active")
    list_filter = ("is_active", "body__level", "body")
    search_fields = ("name", "employee_number", "phone", "certificates__number")
    inlines = [CertificateInline]
    # The photo by the view that checks scope: the file field's own link would point into /media/, which
    # nothing serves.
    exclude = ("photo",)
    readonly_fields = ("photo_link",)

    @admin.display(description="照片")
    def photo_link(self, obj):
        if not obj.photo:
            return "（无）"
        url = reverse("registry:inspector_photo", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.photo_name or "查看照片")


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ("number", "inspector", "valid_from", "valid_until", "status", "effective")
    list_filter = ("status", "fields", "valid_until")
    search_fields = ("number", "inspector__name")

    @admin.display(description="当前状态")
    def effective(self, obj: Certificate) -> str:
        return obj.get_effective_status_display()


class ContactInline(ReadOnlyInline):
    model = EnterpriseContact
    fields = ("kind", "name", "phone")


@admin.register(Enterprise)
class EnterpriseAdmin(ReadOnlyAdmin):
    list_display = ("name", "uscc", "region", "industry", "risk_grade", "credit_grade")
    list_filter = ("risk_grade", "region")
    search_fields = ("name", "uscc", "industry")
    inlines = [ContactInline]


@admin.register(EnterpriseContact)
class EnterpriseContactAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "phone", "enterprise")
    list_filter = ("kind",)
    search_fields = ("name", "phone", "enterprise__name", "enterprise__uscc")


@admin.register(InspectionItem)
class InspectionItemAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "field", "standard", "is_published")
    list_filter = ("field", "is_published", "standard")
    search_fields = ("code", "name", "legal_basis")


class StandardItemInline(ReadOnlyInline):
    model = StandardItem
    fields = ("item", "checklist", "rectify_min_days", "rectify_max_days")


@admin.register(InspectionStandard)
class InspectionStandardAdmin(ReadOnlyAdmin):
    """Read here; registered through the standards page's import (registry/standards.py, all or nothing)."""

    list_display = ("title", "document_number", "version", "effective_date")
    search_fields = ("title", "document_number")
    inlines = [StandardItemInline]

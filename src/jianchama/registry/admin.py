"""The registry in the Django admin, for the platform administrator: read, search, filter.

Changes made here bypass the services (no validation beyond the model's, no audit event); everyday edits
belong on the registry pages, which go through the services.
"""

from django.contrib import admin

from .models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    Field,
    InspectionItem,
    Inspector,
    Region,
)


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
class EnforcementBodyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "body_type", "level", "region", "city_counterpart", "is_active")
    list_filter = ("body_type", "level", "is_active", "fields", "region")
    search_fields = ("code", "name")
    filter_horizontal = ("fields", "entrusted_items")
    autocomplete_fields = ("region", "city_counterpart", "entrusting_organ")


class CertificateInline(admin.TabularInline):
    model = Certificate
    extra = 0
    fields = ("number", "valid_from", "valid_until", "status", "status_reason")
    show_change_link = True


@admin.register(Inspector)
class InspectorAdmin(admin.ModelAdmin):
    list_display = ("name", "body", "employee_number", "phone", "is_active")
    list_filter = ("is_active", "body__level", "body")
    search_fields = ("name", "employee_number", "phone", "certificates__number")
    autocomplete_fields = ("body", "user")
    inlines = [CertificateInline]


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ("number", "inspector", "valid_from", "valid_until", "status", "effective")
    list_filter = ("status", "fields", "valid_until")
    search_fields = ("number", "inspector__name")
    autocomplete_fields = ("inspector",)
    filter_horizontal = ("fields",)

    @admin.display(description="当前状态")
    def effective(self, obj: Certificate) -> str:
        return obj.get_effective_status_display()


class ContactInline(admin.TabularInline):
    model = EnterpriseContact
    extra = 0


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ("name", "uscc", "region", "industry", "risk_grade", "credit_grade")
    list_filter = ("risk_grade", "region")
    search_fields = ("name", "uscc", "industry")
    autocomplete_fields = ("region",)
    inlines = [ContactInline]


@admin.register(EnterpriseContact)
class EnterpriseContactAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "phone", "enterprise")
    list_filter = ("kind",)
    search_fields = ("name", "phone", "enterprise__name", "enterprise__uscc")
    autocomplete_fields = ("enterprise",)


@admin.register(InspectionItem)
class InspectionItemAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "field", "is_published")
    list_filter = ("field", "is_published")
    search_fields = ("code", "name", "legal_basis")
    filter_horizontal = ("bodies",)

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import AuditEvent, CalendarDay, CalendarYear, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "full_name", "role", "body", "region", "enterprise", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("username", "full_name", "phone")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("角色与归属", {"fields": ("full_name", "role", "phone", "body", "region", "enterprise")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        ("角色与归属", {"fields": ("full_name", "role", "phone", "body", "region", "enterprise")}),
    )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is appended by services and never edited."""

    list_display = ("sequence", "occurred_at", "actor_label", "action", "object_repr")
    list_filter = ("action",)
    search_fields = ("object_repr", "actor_label", "action")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ("year", "source", "loaded_at")


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ("date", "kind", "name")
    list_filter = ("kind",)
    date_hierarchy = "date"

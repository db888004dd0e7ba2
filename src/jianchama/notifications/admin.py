"""Notifications in the Django admin, for the platform administrator: what was sent, to whom, and how each
try went. Read-only: notifications are written by the services, deliveries by the queue job."""

from django.contrib import admin

from .models import Delivery, DeliveryAttempt, Notification


class ReadOnlyAdmin(admin.ModelAdmin):
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


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = ("channel", "target", "status", "attempts", "next_attempt_at", "sent_at", "last_error")
    show_change_link = True


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "duration_ms", "ok", "http_status", "error")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("subject", "event", "enterprise", "user", "created_at", "read_at")
    list_filter = ("event", "created_at")
    search_fields = ("subject", "enterprise__name", "enterprise__uscc", "user__username", "object_id")
    list_select_related = ("enterprise", "user")
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "notification",
        "channel",
        "target",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    )
    list_filter = ("status", "channel")
    search_fields = ("target", "notification__subject", "notification__enterprise__name")
    list_select_related = ("notification",)
    inlines = [DeliveryAttemptInline]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ("delivery", "number", "started_at", "duration_ms", "ok", "http_status", "error")
    list_filter = ("ok", "delivery__channel")
    search_fields = ("delivery__target", "error")
    list_select_related = ("delivery", "delivery__notification")

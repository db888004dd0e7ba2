"""Plans and coordination proposals in the Django admin, for the platform administrator. Read-only: plans
change through the services (filing, numbering and the audit log happen there)."""

from django.contrib import admin

from .models import CoordinationProposal, CoordinationResponse, Plan, PlanNumberCounter, PlanReview


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


class PlanReviewInline(ReadOnlyInline):
    model = PlanReview
    fields = ("step", "received_at", "due", "reviewer", "decision", "comment", "decided_at")


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = ("title", "number", "body", "method", "period_start", "period_end", "status")
    list_filter = ("status", "method", "body__level")
    search_fields = ("title", "number", "body__name")
    list_select_related = ("body",)
    inlines = [PlanReviewInline]


class CoordinationResponseInline(ReadOnlyInline):
    model = CoordinationResponse
    fields = ("body", "decision", "comment", "responder", "responded_at")


@admin.register(CoordinationProposal)
class CoordinationProposalAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "region", "period_start", "period_end", "status", "proposed_at")
    list_filter = ("status",)
    inlines = [CoordinationResponseInline]


@admin.register(PlanNumberCounter)
class PlanNumberCounterAdmin(ReadOnlyAdmin):
    list_display = ("region", "year", "last")

"""Frequency rules (F-21) and trigger situations (F-28) in the Django admin, for the platform administrator.

Each form's `clean()` runs the service's validator (`frequency.validate_rule`, `triggers.validate_situation`),
so a contradiction is shown on the form; saving goes through the service (`save_rule`, `save_situation`),
which validates again and appends to the audit log. Rules and situations are switched off, not deleted: tasks
and the audit log refer to them.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from jianchama.core.bounds import BoundedModelForm

from . import frequency, triggers
from .models import Exemption, FrequencyRule, TriggerSituation


class PlatformAdminOnly(admin.ModelAdmin):
    def _allowed(self, request) -> bool:
        return request.user.is_active and request.user.is_platform_admin

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return False


class FrequencyRuleForm(BoundedModelForm):
    exemptions = forms.MultipleChoiceField(
        label="豁免情形",
        choices=Exemption.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="属于所选情形的检查不受本规则限制。投诉、举报类任务自动适用「投诉举报核查」。",
    )

    class Meta:
        model = FrequencyRule
        fields = [
            "name",
            "scope",
            "period",
            "limit",
            "action",
            "field",
            "body_level",
            "risk_grade",
            "exemptions",
            "is_active",
        ]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        # A copy: the form's instance is changed only after clean(), and the service compares with the others.
        rule = FrequencyRule(pk=self.instance.pk, **{name: cleaned.get(name) for name in self.Meta.fields})
        rule.exemptions = list(cleaned.get("exemptions") or [])
        rule.body_level = rule.body_level or ""
        rule.risk_grade = rule.risk_grade or ""
        for problem in frequency.validate_rule(rule):
            self.add_error(None, problem)
        return cleaned


@admin.register(FrequencyRule)
class FrequencyRuleAdmin(PlatformAdminOnly):
    form = FrequencyRuleForm
    list_display = (
        "name",
        "scope",
        "period",
        "limit",
        "action",
        "field",
        "body_level",
        "risk_grade",
        "exemption_labels",
        "is_active",
    )
    list_filter = ("is_active", "scope", "period", "action", "field")
    search_fields = ("name",)

    @admin.display(description="豁免情形")
    def exemption_labels(self, rule: FrequencyRule) -> str:
        return "、".join(frequency.exemption_label(code) for code in rule.exemptions or []) or "—"

    def save_model(self, request, obj, form, change):
        frequency.save_rule(request.user, rule=obj)


class TriggerSituationForm(BoundedModelForm):
    class Meta:
        model = TriggerSituation
        fields = ["field", "code", "name", "evidence_required", "approver", "is_active"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        situation = TriggerSituation(
            pk=self.instance.pk, **{name: cleaned.get(name) for name in self.Meta.fields}
        )
        for problem in triggers.validate_situation(situation):
            self.add_error(None, problem)
        return cleaned


@admin.register(TriggerSituation)
class TriggerSituationAdmin(PlatformAdminOnly):
    form = TriggerSituationForm
    list_display = ("name", "field", "code", "approver", "is_active")
    list_filter = ("is_active", "field")
    search_fields = ("name", "code", "evidence_required")

    def save_model(self, request, obj, form, change):
        triggers.save_situation(request.user, situation=obj)

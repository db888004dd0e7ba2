"""Plan forms: they parse what the user typed; the services decide whether it may be saved."""

from __future__ import annotations

import re

from django import forms
from django.db.models import Q

from jianchama.registry.forms import DATE, Form
from jianchama.registry.models import (
    EnforcementBody,
    Enterprise,
    InspectionItem,
    Region,
    enterprise_region_of,
)

from .models import Plan

SEPARATORS = re.compile(r"[、,，;；\s]+")


class ItemChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, item: InspectionItem) -> str:
        return f"{item.name}（{item.field.name}）"


class PlanForm(Form):
    title = forms.CharField(label="计划名称", max_length=200)
    method = forms.ChoiceField(label="检查方式", choices=[("", "请选择"), *Plan.Method.choices])
    period_start = forms.DateField(label="计划期间起", widget=DATE)
    period_end = forms.DateField(label="计划期间止", widget=DATE)
    items = ItemChoiceField(
        label="检查事项",
        queryset=InspectionItem.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="只列出已公布、且本单位有权实施（含委托权限内）的检查事项",
    )
    expected_count = forms.IntegerField(label="预计检查户数")
    target_enterprises = forms.CharField(
        label="指定企业名单（可选）",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="每行一个统一社会信用代码；填写名单后按名单检查，不再按行业、区域、风险等级筛选",
    )
    target_industries = forms.CharField(
        label="目标行业（可选）", required=False, help_text="多个行业用顿号、逗号或换行分隔；不填则不限行业"
    )
    target_regions = forms.ModelMultipleChoiceField(
        label="目标区域（可选）",
        queryset=Region.objects.none(),
        required=False,
        help_text="含所选区域下辖的街镇；不选则为本单位管辖的全部区域",
    )
    target_risk_grades = forms.MultipleChoiceField(
        label="目标风险等级（可选）",
        choices=Enterprise.RiskGrade.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(label="计划说明", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, body: EnforcementBody, **kwargs):
        super().__init__(*args, **kwargs)
        self.body = body
        self.fields["items"].queryset = (
            InspectionItem.objects.filter(is_published=True)
            .filter(Q(bodies=body) | Q(entrusted_bodies=body))
            .select_related("field")
            .distinct()
        )
        working = enterprise_region_of(body)
        regions = Region.objects.all()
        if working is not None:
            regions = regions.filter(path__startswith=working.path)
        self.fields["target_regions"].queryset = regions

    def clean_target_industries(self) -> list[str]:
        text = self.cleaned_data["target_industries"]
        return [part for part in SEPARATORS.split(text or "") if part]

    def clean_target_enterprises(self) -> list[Enterprise]:
        codes = [
            code.upper() for code in SEPARATORS.split(self.cleaned_data["target_enterprises"] or "") if code
        ]
        codes = list(dict.fromkeys(codes))
        found = {e.uscc: e for e in Enterprise.objects.filter(uscc__in=codes).select_related("region")}
        missing = [code for code in codes if code not in found]
        if missing:
            raise forms.ValidationError(f"没有统一社会信用代码为{'、'.join(missing)}的企业，请核对")
        return [found[code] for code in codes]

    @staticmethod
    def initial_for(plan: Plan) -> dict:
        return {
            "title": plan.title,
            "method": plan.method,
            "period_start": plan.period_start,
            "period_end": plan.period_end,
            "items": [item.pk for item in plan.items.all()],
            "expected_count": plan.expected_count,
            "target_enterprises": "\n".join(e.uscc for e in plan.target_enterprises.all()),
            "target_industries": "、".join(plan.target_industries),
            "target_regions": [r.pk for r in plan.target_regions.all()],
            "target_risk_grades": list(plan.target_risk_grades),
            "description": plan.description,
        }


class PlanFilterForm(Form):
    q = forms.CharField(label="搜索", required=False)
    status = forms.ChoiceField(label="状态", choices=[("", "全部状态"), *Plan.Status.choices], required=False)
    method = forms.ChoiceField(
        label="检查方式", choices=[("", "全部方式"), *Plan.Method.choices], required=False
    )


class PublicFilterForm(Form):
    body = forms.ModelChoiceField(
        label="执法单位", queryset=EnforcementBody.objects.none(), required=False, empty_label="全部执法单位"
    )
    method = forms.ChoiceField(
        label="检查方式", choices=[("", "全部方式"), *Plan.Method.choices], required=False
    )
    start = forms.DateField(label="期间起", required=False, widget=DATE)
    end = forms.DateField(label="期间止", required=False, widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].queryset = EnforcementBody.objects.filter(
            plans__status=Plan.Status.PUBLISHED
        ).distinct()

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError("期间止不能早于期间起")
        return data

    def apply(self, plans):
        """The plans matching the valid filters (invalid ones are ignored, and shown as errors)."""
        if not self.is_bound or not self.is_valid():
            return plans
        data = self.cleaned_data
        if data["body"]:
            plans = plans.filter(body=data["body"])
        if data["method"]:
            plans = plans.filter(method=data["method"])
        # A period filter keeps the plans whose period overlaps it.
        if data["start"]:
            plans = plans.filter(period_end__gte=data["start"])
        if data["end"]:
            plans = plans.filter(period_start__lte=data["end"])
        return plans


class CommentForm(Form):
    comment = forms.CharField(label="意见", required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CoordinationForm(Form):
    region = forms.ModelChoiceField(label="区域", queryset=Region.objects.none(), empty_label=None)
    start = forms.DateField(label="期间起", widget=DATE)
    end = forms.DateField(label="期间止", widget=DATE)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        regions = Region.objects.all()
        if not user.is_platform_admin and user.region_id is not None:
            regions = regions.filter(path__startswith=user.region.path)
        self.fields["region"].queryset = regions

"""Task forms: they parse what the user typed; the services decide whether it may be saved."""

from __future__ import annotations

from django import forms
from django.db.models import Exists, OuterRef
from django.utils import timezone

from jianchama.registry.forms import DATE, Form
from jianchama.registry.models import Certificate, EnforcementBody, Enterprise, InspectionItem, Inspector
from jianchama.registry.uscc import is_valid as uscc_is_valid

from .models import Evaluation, Evidence, Exemption, Finding, InspectionRecord, Task, TriggerSituation


class ItemChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, item: InspectionItem) -> str:
        # The city standard the item follows (按照市级行政检查标准开展检查), said where the item is chosen.
        if item.standard_id is None:
            return item.name
        return f"{item.name}（依据：{item.standard.title} v{item.standard.version}）"


class InspectorChoiceField(forms.ModelMultipleChoiceField):
    # The fields of the items chosen so far (set by the form): each inspector is marked when his valid
    # certificates do not cover those of them his body works in (the qualification gate's rule, said early).
    needed_fields: dict[int, str] = {}

    def label_from_instance(self, inspector: Inspector) -> str:
        label = f"{inspector.name}（{inspector.body.name}）"
        # Said before saving, not after: an inspector without a certificate valid today cannot be put on it.
        today = timezone.localdate()
        certificates = sorted(inspector.certificates.all(), key=lambda c: c.pk, reverse=True)
        valid = [c for c in certificates if c.status_on(today) == Certificate.Status.VALID]
        if not valid:
            state = Certificate.Status(certificates[0].status_on(today)).label if certificates else "无执法证"
            return label + (f"【执法证{state}，不能安排】" if certificates else "【无执法证，不能安排】")
        covered = {field.pk: field.name for c in valid for field in c.fields.all()}
        if covered:
            label += f" · 执法证领域：{'、'.join(sorted(covered.values()))}"
        body_fields = {field.pk for field in inspector.body.fields.all()}
        missing = [name for pk, name in self.needed_fields.items() if pk in body_fields and pk not in covered]
        if missing:
            label += f"【执法证不覆盖所选事项的领域：{'、'.join(sorted(missing))}】"
        return label


# A joint inspection with more partner bodies than this is not one visit.
JOINT_BODIES_MAX = 20


class TaskForm(Form):
    # A name or a USCC: typed in full without JavaScript (a name must then name one enterprise); with it, the
    # as-you-type search (views.tasks.enterprise_search) fills in the chosen enterprise's USCC.
    enterprise_uscc = forms.CharField(
        label="检查对象（企业名称或统一社会信用代码）",
        max_length=100,
        help_text="输入企业名称的一部分或18位统一社会信用代码",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    kind = forms.ChoiceField(label="检查类型", choices=[("", "请选择"), *Task.Kind.choices])
    mode = forms.ChoiceField(label="检查方式", choices=Task.Mode.choices, initial=Task.Mode.ON_SITE)
    items = ItemChoiceField(
        label="检查事项", queryset=InspectionItem.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    joint_bodies = forms.ModelMultipleChoiceField(
        label="联合检查的其他执法单位（可选）",
        queryset=EnforcementBody.objects.none(),
        required=False,
        help_text="同一企业的多个检查事项由多个单位一次入企完成，共用一个检查码",
    )
    inspectors = InspectorChoiceField(
        label="执法人员（不少于两人）",
        queryset=Inspector.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "所选执法人员不属于本单位或所选的联合检查单位，请重新选择"},
    )
    legal_basis = forms.CharField(label="检查依据", widget=forms.Textarea(attrs={"rows": 3}))
    window_start = forms.DateField(label="计划检查日期起", widget=DATE)
    window_end = forms.DateField(label="计划检查日期止", widget=DATE)
    reason = forms.CharField(
        label="启动理由（无计划检查必填）", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    evidence = forms.CharField(
        label="证据材料说明（无计划检查必填）", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    plan_number = forms.CharField(
        label="计划编号（有计划检查必填）",
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"list": "filed-plans", "autocomplete": "off"}),
        help_text="可从本单位已备案的计划中选择",
    )
    trigger_situation = forms.ModelChoiceField(
        label="触发情形（触发式检查必填）", queryset=TriggerSituation.objects.none(), required=False
    )
    is_emergency = forms.BooleanField(
        label="紧急检查（可先行开始，须在一个工作日内补办审批）", required=False
    )

    # The form's sections, in the order a task is thought out (issue 14).
    SECTIONS = [
        ("检查对象", ["enterprise_uscc"]),
        ("执法单位和检查事项", ["joint_bodies", "items"]),
        ("执法人员", ["inspectors"]),
        (
            "检查类型、依据和计划",
            ["kind", "legal_basis", "plan_number", "trigger_situation", "reason", "evidence"],
        ),
        ("检查时间和方式", ["window_start", "window_end", "mode", "is_emergency"]),
    ]

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        from django.urls import reverse

        # As-you-type search (HTMX): the results under the field, each a button that picks the enterprise.
        self.fields["enterprise_uscc"].widget.attrs.update(
            {
                "hx-get": reverse("inspections:enterprise_search"),
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "#enterprise-results",
                "hx-sync": "this:replace",
                "aria-describedby": "enterprise-results",
            }
        )
        self.fields["items"].queryset = InspectionItem.objects.visible_to(user).filter(is_published=True)
        self.fields["trigger_situation"].queryset = TriggerSituation.objects.filter(is_active=True)
        # Shown under the select: what evidence each situation needs and who approves it (F-28).
        self.situation_hints = list(
            TriggerSituation.objects.filter(is_active=True)
            .select_related("field")
            .order_by("field__code", "code")
        )
        self.fields["joint_bodies"].queryset = EnforcementBody.objects.filter(is_active=True).exclude(
            pk=user.body_id
        )
        # The user's own body's inspectors, and those of the joint bodies chosen (sent with the form, or
        # prefilled by a link): never the roster of every body in the city.
        partners = self.chosen_partner_ids()
        self.fields["inspectors"].queryset = (
            Inspector.objects.filter(
                is_active=True, body__is_active=True, body_id__in=[user.body_id, *partners]
            )
            .select_related("body")
            .prefetch_related("certificates__fields", "body__fields")
            .order_by("body__code", "name")
        )
        # Items the user's body (or a chosen joint body) may check: among its items and in its fields.
        authorised = EnforcementBody.items.through.objects.filter(
            inspectionitem_id=OuterRef("pk"),
            enforcementbody_id__in=[user.body_id, *partners],
            enforcementbody__fields=OuterRef("field_id"),
        )
        self.fields["items"].queryset = (
            self.fields["items"].queryset.filter(Exists(authorised)).select_related("field", "standard")
        )
        self.fields["inspectors"].needed_fields = self._chosen_item_fields()

    def _chosen_item_fields(self) -> dict[int, str]:
        values = (
            self.data.getlist(self.add_prefix("items")) if self.is_bound else self.initial.get("items") or []
        )
        ids = [int(v) for v in values if str(v).isdigit() and len(str(v)) < 10][:100]
        if not ids:
            return {}
        return dict(
            self.fields["items"].queryset.filter(pk__in=ids).order_by().values_list("field_id", "field__name")
        )

    def chosen_partner_ids(self) -> list[int]:
        """The joint bodies chosen so far: what was sent with the form, else what a link prefilled."""
        if self.is_bound:
            values = self.data.getlist(self.add_prefix("joint_bodies"))
        else:
            values = self.initial.get("joint_bodies") or []
        ids = {int(value) for value in values if str(value).isdigit() and len(str(value)) < 10}
        return list(
            self.fields["joint_bodies"]
            .queryset.filter(pk__in=ids)
            .values_list("pk", flat=True)[:JOINT_BODIES_MAX]
        )

    def clean_plan_number(self):
        from jianchama.plans.models import Plan

        number = self.cleaned_data["plan_number"].strip()
        if not number:
            return None
        plan = Plan.objects.visible_to(self.user).filter(number=number).first()
        if plan is None:
            raise forms.ValidationError(f"没有编号为{number}的检查计划，请核对计划编号")
        return plan

    def clean_enterprise_uscc(self) -> Enterprise:
        text = self.cleaned_data["enterprise_uscc"].strip()
        code = text.upper()
        if len(code) == 18 and code.isalnum():
            if not uscc_is_valid(code):
                raise forms.ValidationError("统一社会信用代码无效，请核对后重新输入")
            enterprise = Enterprise.objects.visible_to(self.user).filter(uscc=code).first()
            if enterprise is None:
                raise forms.ValidationError("本单位检查范围内没有这个统一社会信用代码的企业")
            return enterprise
        if len(text) < 2:
            raise forms.ValidationError("请输入企业名称（至少两个字）或18位统一社会信用代码")
        matches = list(
            Enterprise.objects.visible_to(self.user).filter(name__icontains=text).order_by("name")[:6]
        )
        exact = [e for e in matches if e.name == text]
        if len(exact) == 1 or len(matches) == 1:
            return (exact or matches)[0]
        if not matches:
            raise forms.ValidationError(
                f"本单位检查范围内没有名称含「{text}」的企业，请核对或输入统一社会信用代码"
            )
        listed = "；".join(f"{e.name}（{e.uscc}）" for e in matches[:5])
        raise forms.ValidationError(
            f"名称含「{text}」的企业不止一家：{listed}{'等' if len(matches) > 5 else ''}。请输入完整名称或统一社会信用代码"
        )

    def filed_plans(self):
        """The body's plans a task may cite (filed or published), for the plan picker."""
        from jianchama.plans.models import Plan

        return (
            Plan.objects.visible_to(self.user)
            .filter(body_id=self.user.body_id, status__in=(Plan.Status.FILED, Plan.Status.PUBLISHED))
            .filter(number__isnull=False)
            .order_by("-period_end")[:50]
        )


class ReasonForm(Form):
    reason = forms.CharField(label="原因", widget=forms.Textarea(attrs={"rows": 2}))


FINDING_CHOICES = Finding.Result.choices


class RecordForm(Form):
    """The record of one task: one result per checklist entry of each item, then the outcome."""

    outcome = forms.ChoiceField(label="检查结论", choices=[("", "请选择"), *InspectionRecord.Outcome.choices])
    summary = forms.CharField(label="检查情况", widget=forms.Textarea(attrs={"rows": 3}))
    rectify_working_days = forms.IntegerField(
        label="整改期限（工作日，责令整改时填写）", required=False, min_value=1, max_value=60
    )
    lenient = forms.BooleanField(label="适用首违不罚/轻微免罚（包容审慎）", required=False)
    lenient_note = forms.CharField(
        label="包容审慎处理理由和依据", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    improvement_advice = forms.CharField(
        label="改进建议（告知企业）", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    onsite_person_name = forms.CharField(label="现场负责人姓名", required=False, max_length=50)
    onsite_person_phone = forms.CharField(
        label="现场负责人手机号（凭此号扫码查看结果并评议）",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    evidence_kind = forms.ChoiceField(label="证据类型", choices=Evidence.Kind.choices, required=False)
    # The files themselves come from a plain <input type="file" multiple name="evidence_files">.

    def __init__(self, *args, task: Task, **kwargs):
        super().__init__(*args, **kwargs)
        self.entries: list[tuple[str, InspectionItem, str]] = []
        for item in task.items.all():
            checklist = item.checklist or [item.name]
            for index, entry in enumerate(checklist):
                name = f"f_{item.pk}_{index}"
                self.fields[name] = forms.ChoiceField(
                    label=entry, choices=FINDING_CHOICES, widget=forms.RadioSelect
                )
                self.fields[f"{name}_note"] = forms.CharField(label="说明", required=False, max_length=500)
                self.entries.append((name, item, entry))

    def rows(self):
        """(item, result field, note field) for the template, grouped by item in order."""
        return [(item, self[name], self[f"{name}_note"]) for name, item, _ in self.entries]


class EvaluationForm(Form):
    overall = forms.TypedChoiceField(
        label="总体评价", choices=Evaluation.SCORES, coerce=int, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label="意见建议（可选）", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in Evaluation.DIMENSIONS:
            self.fields[name] = forms.TypedChoiceField(
                label=label, choices=Evaluation.SCORES, coerce=int, widget=forms.RadioSelect
            )
        self.order_fields(["overall"] + [name for name, _ in Evaluation.DIMENSIONS] + ["comment"])

    def scores(self) -> dict[str, int]:
        return {name: self.cleaned_data[name] for name in ["overall"] + [n for n, _ in Evaluation.DIMENSIONS]}


class StatementForm(Form):
    text = forms.CharField(label="陈述申辩内容", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)


class ReplyForm(Form):
    reply = forms.CharField(label="答复", widget=forms.Textarea(attrs={"rows": 3}))


class ReportForm(Form):
    contact_phone = forms.CharField(label="联系电话（可选，便于核实）", required=False, max_length=11)
    description = forms.CharField(
        label="情况说明（可选）", required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class SubmitForm(Form):
    """Submission after the frequency check (F-21): an exemption claimed, and the justification a justify-rule
    needs."""

    exemption = forms.ChoiceField(
        label="豁免情形（如有）",
        choices=[("", "无"), *Exemption.choices],
        required=False,
        help_text="投诉、举报类任务自动适用「投诉举报核查」；所选情形将随任务报执法单位负责人审批并记录在案",
    )
    justification = forms.CharField(
        label="超频次检查的理由",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="超出须说明理由的频次规则时必填，由执法单位负责人审批",
    )


class PeriodForm(Form):
    """A statistics period, this year by default."""

    start = forms.DateField(label="开始日期", widget=DATE, required=False)
    end = forms.DateField(label="结束日期", widget=DATE, required=False)

    def period(self, today) -> tuple:
        import datetime

        data = self.cleaned_data if self.is_valid() else {}
        start = data.get("start") or datetime.date(today.year, 1, 1)
        end = data.get("end") or datetime.date(today.year, 12, 31)
        return start, end


class ResultPhoneForm(Form):
    """ "Scan again": the on-site person's or legal representative's phone, to receive an SMS code."""

    phone = forms.CharField(
        label="手机号",
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "tel"}),
    )


class ResultCodeForm(Form):
    phone = forms.CharField(widget=forms.HiddenInput, max_length=20)
    code = forms.CharField(
        label="短信验证码",
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

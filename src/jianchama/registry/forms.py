"""Registry forms: they parse what the user typed; the services decide whether it may be saved.

Plain forms, not model forms: a model form changes its instance while validating, and the services must
see the stored object to record what it was before.
"""

from __future__ import annotations

from django import forms
from django.utils import timezone

from jianchama.core.bounds import BoundedForm

from .models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    Field,
    InspectionItem,
    Inspector,
    Region,
    enterprise_region_of,
)


class Form(BoundedForm):
    """No “:” after labels: the label stands on its own line above the field."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def initial_from(instance, names) -> dict:
    """A form's initial values from a stored object (many-to-many as lists)."""
    initial = {}
    for name in names:
        value = getattr(instance, name)
        initial[name] = list(value.all()) if hasattr(value, "all") else value
    return initial


class RegionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Region) -> str:
        indent = {"city": "", "district": "　", "town": "　　"}.get(obj.level, "")
        return f"{indent}{obj.name}"


# --- Filters of the list pages ------------------------------------------------------------------------


class BodyFilterForm(Form):
    q = forms.CharField(
        label="搜索",
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "名称或单位编码"}),
    )
    field = forms.ModelChoiceField(
        label="执法领域", queryset=Field.objects.all(), required=False, empty_label="全部领域"
    )
    region = RegionChoiceField(
        label="区域",
        queryset=Region.objects.exclude(level=Region.Level.TOWN),
        required=False,
        empty_label="全部区域",
    )
    level = forms.ChoiceField(
        label="层级", choices=[("", "全部层级"), *EnforcementBody.Level.choices], required=False
    )
    body_type = forms.ChoiceField(
        label="主体类型", choices=[("", "全部类型"), *EnforcementBody.Type.choices], required=False
    )


CERTIFICATE_STATUS_FILTER = [
    ("", "全部证件状态"),
    ("valid", "持有效证件"),
    ("expired", "证件已过期"),
    ("suspended", "证件暂停使用"),
    ("revoked", "证件已收回"),
    ("none", "无证件"),
]


class InspectorFilterForm(Form):
    q = forms.CharField(
        label="搜索",
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "姓名、工号或证件编号"}),
    )
    body = forms.ModelChoiceField(
        label="执法单位", queryset=EnforcementBody.objects.none(), required=False, empty_label="全部单位"
    )
    field = forms.ModelChoiceField(
        label="执法领域", queryset=Field.objects.all(), required=False, empty_label="全部领域"
    )
    status = forms.ChoiceField(label="证件状态", choices=CERTIFICATE_STATUS_FILTER, required=False)

    def __init__(self, *args, bodies=None, **kwargs):
        super().__init__(*args, **kwargs)
        if bodies is not None:
            self.fields["body"].queryset = bodies


class EnterpriseFilterForm(Form):
    q = forms.CharField(
        label="搜索",
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "企业名称或统一社会信用代码"}),
    )
    region = RegionChoiceField(
        label="区域", queryset=Region.objects.all(), required=False, empty_label="全部区域"
    )
    risk_grade = forms.ChoiceField(
        label="风险等级", choices=[("", "全部风险等级"), *Enterprise.RiskGrade.choices], required=False
    )
    industry = forms.CharField(
        label="行业", required=False, widget=forms.TextInput(attrs={"placeholder": "行业"})
    )


class ItemFilterForm(Form):
    q = forms.CharField(
        label="搜索",
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "事项编码或名称"}),
    )
    field = forms.ModelChoiceField(
        label="执法领域", queryset=Field.objects.all(), required=False, empty_label="全部领域"
    )
    body = forms.ModelChoiceField(
        label="执法单位", queryset=EnforcementBody.objects.all(), required=False, empty_label="全部单位"
    )


# --- Bodies -------------------------------------------------------------------------------------------


class BodyForm(Form):
    code = forms.CharField(label="单位编码", max_length=32)
    name = forms.CharField(label="名称", max_length=100)
    body_type = forms.ChoiceField(label="主体类型", choices=EnforcementBody.Type.choices)
    level = forms.ChoiceField(label="层级", choices=EnforcementBody.Level.choices)
    region = RegionChoiceField(label="所在区域", queryset=Region.objects.all())
    fields = forms.ModelMultipleChoiceField(
        label="执法领域", queryset=Field.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    city_counterpart = forms.ModelChoiceField(
        label="市级对口单位",
        required=False,
        empty_label="（无）",
        queryset=EnforcementBody.objects.filter(level=EnforcementBody.Level.CITY),
        help_text="区级、街镇执法单位选择同一领域的市级单位，计划备案时由其审核",
    )
    entrusting_organ = forms.ModelChoiceField(
        label="委托机关",
        required=False,
        empty_label="（无）",
        queryset=EnforcementBody.objects.filter(body_type=EnforcementBody.Type.ORGAN),
        help_text="仅受委托组织填写",
    )
    entrusted_items = forms.ModelMultipleChoiceField(
        label="委托事项（委托权限）",
        required=False,
        queryset=InspectionItem.objects.all(),
        help_text="仅受委托组织填写：委托机关委托其检查的事项",
    )
    entrustment_start = forms.DateField(label="委托期限起", required=False, widget=DATE)
    entrustment_end = forms.DateField(label="委托期限止", required=False, widget=DATE)
    head_name = forms.CharField(label="负责人", max_length=50, required=False)
    phone = forms.CharField(label="联系电话", max_length=30, required=False)
    is_active = forms.BooleanField(label="有效", required=False, initial=True)


# --- Inspectors and certificates ----------------------------------------------------------------------


class InspectorForm(Form):
    body = forms.ModelChoiceField(label="所属执法单位", queryset=EnforcementBody.objects.none())
    name = forms.CharField(label="姓名", max_length=50)
    employee_number = forms.CharField(label="工号", max_length=32, required=False)
    phone = forms.CharField(
        label="手机号", max_length=20, required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )
    photo = forms.ImageField(label="照片", required=False, help_text="企业扫码核验时显示")
    is_active = forms.BooleanField(label="在岗", required=False, initial=True)

    def __init__(self, *args, bodies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].queryset = bodies


class CertificateForm(Form):
    number = forms.CharField(label="证件编号", max_length=32)
    fields = forms.ModelMultipleChoiceField(
        label="执法领域", queryset=Field.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    valid_from = forms.DateField(label="有效期起", widget=DATE)
    valid_until = forms.DateField(label="有效期止", widget=DATE)

    def __init__(self, *args, inspector: Inspector, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fields"].queryset = inspector.body.fields.all()
        self.fields["fields"].help_text = f"只能选择所属单位“{inspector.body}”的执法领域"


class CertificateStatusForm(Form):
    status = forms.ChoiceField(
        label="改为",
        choices=[
            (Certificate.Status.SUSPENDED, "暂停使用"),
            (Certificate.Status.REVOKED, "收回"),
            (Certificate.Status.VALID, "恢复有效"),
        ],
    )
    reason = forms.CharField(
        label="理由", max_length=200, required=False, help_text="暂停使用或收回时必填，例如问责决定书文号"
    )


# --- Enterprises and contacts -------------------------------------------------------------------------


class EnterpriseForm(Form):
    uscc = forms.CharField(label="统一社会信用代码", max_length=30)
    name = forms.CharField(label="名称", max_length=200)
    region = RegionChoiceField(label="所在区域", queryset=Region.objects.all())
    address = forms.CharField(label="地址", max_length=255, required=False)
    industry = forms.CharField(label="行业", max_length=100, required=False)
    risk_grade = forms.ChoiceField(
        label="风险等级", choices=Enterprise.RiskGrade.choices, initial=Enterprise.RiskGrade.B
    )
    credit_grade = forms.CharField(label="信用等级", max_length=10, required=False)
    legal_representative = forms.CharField(label="法定代表人", max_length=50, required=False)
    # The registered position for 亮码即定位 (F-44): WGS-84 degrees, six decimals (about 0.1 m).
    latitude = forms.DecimalField(
        label="纬度",
        required=False,
        min_value=-90,
        max_value=90,
        max_digits=9,
        decimal_places=6,
        help_text="企业登记位置（WGS-84），与经度一并填写；用于核对执法人员亮码、签到的位置",
    )
    longitude = forms.DecimalField(
        label="经度", required=False, min_value=-180, max_value=180, max_digits=9, decimal_places=6
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not user.is_platform_admin and user.body_id:
            scope = enterprise_region_of(user.body)
            if scope is not None:
                self.fields["region"].queryset = scope.subtree()

    def clean(self):
        data = super().clean()
        given = [name for name in ("latitude", "longitude") if data.get(name) is not None]
        if len(given) == 1:
            missing = "longitude" if given == ["latitude"] else "latitude"
            self.add_error(missing, "纬度和经度须一并填写，或都不填")
        return data


class ContactForm(Form):
    kind = forms.ChoiceField(label="类型", choices=EnterpriseContact.Kind.choices)
    name = forms.CharField(label="姓名", max_length=50)
    phone = forms.CharField(
        label="手机号",
        max_length=20,
        widget=forms.TextInput(attrs={"type": "tel"}),
        help_text="联系人凭此手机号接收验证码登录",
    )


# --- Items --------------------------------------------------------------------------------------------


class ItemForm(Form):
    code = forms.CharField(label="事项编码", max_length=32)
    name = forms.CharField(label="检查事项", max_length=200)
    field = forms.ModelChoiceField(label="执法领域", queryset=Field.objects.all())
    legal_basis = forms.CharField(
        label="检查依据", widget=forms.Textarea(attrs={"rows": 3}), help_text="法律、法规、规章的名称和条款"
    )
    checklist = forms.CharField(
        label="检查标准（检查清单）",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="每行一条检查内容",
    )
    bodies = forms.ModelMultipleChoiceField(
        label="可实施检查的执法单位", required=False, queryset=EnforcementBody.objects.all()
    )
    is_published = forms.BooleanField(
        label="已公布", required=False, initial=True, help_text="只有已公布的事项可以检查（无事项不检查）"
    )

    def clean_checklist(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["checklist"].splitlines() if line.strip()]

    @staticmethod
    def initial_for(item: InspectionItem) -> dict:
        initial = initial_from(item, ["code", "name", "field", "legal_basis", "bodies", "is_published"])
        initial["checklist"] = "\n".join(item.checklist or [])
        return initial


# --- Qualification check (F-05) -----------------------------------------------------------------------


class QualificationForm(Form):
    bodies = forms.ModelMultipleChoiceField(
        label="执法单位", queryset=EnforcementBody.objects.none(), help_text="联合检查时选择多个单位"
    )
    inspectors = forms.ModelMultipleChoiceField(
        label="执法人员", queryset=Inspector.objects.none(), help_text="现场检查不少于2人"
    )
    items = forms.ModelMultipleChoiceField(
        label="检查事项", queryset=InspectionItem.objects.none(), required=False
    )
    on = forms.DateField(label="检查日期", widget=DATE)

    def __init__(self, *args, bodies, inspectors, items, **kwargs):
        kwargs.setdefault("initial", {"on": timezone.localdate()})
        super().__init__(*args, **kwargs)
        self.fields["bodies"].queryset = bodies
        self.fields["inspectors"].queryset = inspectors
        self.fields["inspectors"].label_from_instance = lambda i: f"{i.name}（{i.body}）"
        self.fields["items"].queryset = items

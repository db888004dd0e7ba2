"""Complaint and lead forms: they parse what the user typed (an enterprise by its credit code, a task by its
number); the services decide whether it may be saved."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.inspections.models import Task
from jianchama.registry.forms import DATE, Form
from jianchama.registry.models import EnforcementBody, Enterprise
from jianchama.supervision.models import Severity

from . import services
from .models import Complaint, ObserverActivity, ReconsiderationLead


class BodyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, body: EnforcementBody) -> str:
        return body.name


def _enterprise_by_code(value: str) -> Enterprise | None:
    code = (value or "").strip().upper()
    if not code:
        return None
    enterprise = Enterprise.objects.filter(uscc=code).first()
    if enterprise is None:
        raise forms.ValidationError(f"未找到统一社会信用代码为{code}的企业，请核对或留空")
    return enterprise


def _task_by_number(value: str) -> Task | None:
    number = (value or "").strip().upper()
    if not number:
        return None
    task = Task.objects.filter(number=number).select_related("enterprise", "lead_body").first()
    if task is None:
        raise forms.ValidationError(f"未找到编号为{number}的检查任务，请核对或留空")
    return task


class ComplaintFilterForm(Form):
    q = forms.CharField(
        label="搜索", required=False, widget=forms.TextInput(attrs={"placeholder": "编号、标题、投诉人"})
    )
    source = forms.ChoiceField(
        label="来源", choices=[("", "全部来源"), *Complaint.Source.choices], required=False
    )
    category = forms.ChoiceField(
        label="类别", choices=[("", "全部类别"), *Complaint.Category.choices], required=False
    )
    status = forms.ChoiceField(
        label="状态", choices=[("", "全部状态"), *Complaint.Status.choices], required=False
    )
    body = BodyChoiceField(
        label="执法单位", queryset=EnforcementBody.objects.none(), required=False, empty_label="全部执法单位"
    )
    enterprise = forms.CharField(
        label="企业", required=False, widget=forms.TextInput(attrs={"placeholder": "企业名称或信用代码"})
    )
    start = forms.DateField(label="受理日期起", required=False, widget=DATE)
    end = forms.DateField(label="受理日期止", required=False, widget=DATE)
    overdue = forms.BooleanField(label="只看逾期", required=False)

    def __init__(self, *args, bodies=None, **kwargs):
        super().__init__(*args, **kwargs)
        if bodies is not None:
            self.fields["body"].queryset = bodies

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("受理日期起不能晚于受理日期止")
        return data


class ComplaintForm(Form):
    """The intake form (intake staff, supervisors, a body's administrator) and the observer's form."""

    source = forms.ChoiceField(label="来源")
    category = forms.ChoiceField(label="类别", choices=Complaint.Category.choices)
    title = forms.CharField(label="标题", max_length=200)
    content = forms.CharField(label="投诉举报内容", widget=forms.Textarea(attrs={"rows": 5}))
    complainant_name = forms.CharField(label="投诉人", max_length=50, required=False)
    complainant_phone = forms.CharField(label="联系电话", max_length=20, required=False)
    received_on = forms.DateField(label="受理日期", widget=DATE)
    enterprise = forms.CharField(
        label="涉及企业（统一社会信用代码）", max_length=18, required=False, help_text="可留空"
    )
    complainant_is_enterprise = forms.BooleanField(
        label="投诉人即涉及企业（办结后通过企业端通知该企业）", required=False
    )
    body = BodyChoiceField(label="涉及执法单位", queryset=EnforcementBody.objects.none(), required=False)
    task = forms.CharField(label="涉及检查任务编号", max_length=20, required=False, help_text="可留空")

    def __init__(self, *args, user, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("received_on", timezone.localdate())
        super().__init__(*args, **kwargs)
        sources = services.registration_sources(user)
        self.fields["source"].choices = [(s, Complaint.Source(s).label) for s in sources]
        if len(sources) == 1:
            self.fields["source"].initial = sources[0]
            self.fields["source"].widget = forms.HiddenInput()
        if services.is_bureau_staff(user):
            self.fields["body"].queryset = services.assignable_bodies(user)
        elif user.role == Role.OBSERVER:
            self.fields["body"].queryset = EnforcementBody.objects.filter(
                is_active=True, region__path__startswith=user.region.path
            )
        else:
            del self.fields["body"]  # a body registers what came through its own platform
        if user.role in (Role.OBSERVER, Role.BODY_ADMIN):
            del self.fields["complainant_is_enterprise"]
        if user.role == Role.OBSERVER:
            del self.fields["task"]
            self.fields["content"].label = "观察情况"
            self.fields["complainant_name"].label = "观察员（可不填）"
            for name in ("complainant_name", "complainant_phone", "received_on"):
                del self.fields[name]

    def clean_enterprise(self):
        return _enterprise_by_code(self.cleaned_data.get("enterprise", ""))

    def clean_task(self):
        return _task_by_number(self.cleaned_data.get("task", ""))

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        is_enterprise = data.pop("complainant_is_enterprise", False)
        if is_enterprise:
            data["complainant_enterprise"] = data.get("enterprise")
        return data


class PortalComplaintForm(Form):
    """An enterprise's complaint on the portal: its own enterprise, optionally one of its own tasks."""

    category = forms.ChoiceField(label="反映的问题类别", choices=Complaint.Category.choices)
    task = forms.ModelChoiceField(
        label="涉及的检查（可不选）",
        queryset=Task.objects.none(),
        required=False,
        empty_label="不涉及具体检查",
    )
    title = forms.CharField(label="标题", max_length=200)
    content = forms.CharField(label="具体情况", widget=forms.Textarea(attrs={"rows": 6}))
    complainant_name = forms.CharField(label="联系人", max_length=50, required=False)
    complainant_phone = forms.CharField(label="联系电话", max_length=20, required=False)

    def __init__(self, *args, tasks, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = tasks
        self.fields["task"].label_from_instance = lambda t: (
            f"{t.window_start:%Y-%m-%d} {t.lead_body.name}（{t.number or t.pk}）"
        )


class AssignForm(Form):
    body = BodyChoiceField(label="承办执法单位", queryset=EnforcementBody.objects.none())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].queryset = services.assignable_bodies(user)


class TextForm(Form):
    text = forms.CharField(label="内容", widget=forms.Textarea(attrs={"rows": 3}))


class FindingForm(Form):
    title = forms.CharField(label="问题（可不填，默认用投诉标题）", max_length=200, required=False)
    severity = forms.ChoiceField(label="严重程度", choices=Severity.choices)


class LeadForm(Form):
    case_number = forms.CharField(label="复议案号", max_length=60)
    body = BodyChoiceField(label="被申请执法单位", queryset=EnforcementBody.objects.none())
    task = forms.CharField(label="涉及检查任务编号", max_length=20, required=False, help_text="可留空")
    description = forms.CharField(label="问题线索", widget=forms.Textarea(attrs={"rows": 5}))
    received_on = forms.DateField(label="收到日期", widget=DATE)

    def __init__(self, *args, bodies, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("received_on", timezone.localdate())
        super().__init__(*args, **kwargs)
        self.fields["body"].queryset = bodies

    def clean_task(self):
        return _task_by_number(self.cleaned_data.get("task", ""))


class LeadFilterForm(Form):
    status = forms.ChoiceField(
        label="状态", choices=[("", "全部状态"), *ReconsiderationLead.Status.choices], required=False
    )


class NoCodeReportForm(Form):
    """The one-tap report on the portal: both fields may stay empty."""

    who = forms.CharField(
        label="来检查的单位或人员（可不填）",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "如：某某局，两名工作人员"}),
    )
    note = forms.CharField(
        label="补充说明（可不填）", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class SurveyForm(Form):
    """A survey as a supervisor writes it: the questions one a line (complaints/surveys.py)."""

    region = forms.ModelChoiceField(label="调查范围", queryset=None, empty_label=None)
    title = forms.CharField(label="标题", max_length=100)
    intro = forms.CharField(
        label="说明", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    questions = forms.CharField(
        label="问题（每行一题）",
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="每行一题，行首注明类型：[评分] 问题（1至5分）；[单选] 问题｜选项一｜选项二；[文字] 问题。"
        "未注明类型的按评分题处理。",
        initial="[评分] 检查人员是否出示了执法证件和检查码？\n"
        "[单选] 今年贵单位接受行政检查的次数是否合适？｜偏多｜合适｜偏少\n"
        "[文字] 对改进涉企行政检查有何意见建议？",
    )
    closes_on = forms.DateField(label="截止日期", widget=DATE)

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.fields["region"].label_from_instance = lambda region: region.name


class SurveyAnswerForm(forms.Form):
    """One field a question: ratings and choices as radio buttons, words as a text box."""

    def __init__(self, *args, questions, **kwargs):
        super().__init__(*args, **kwargs)
        for index, question in enumerate(questions):
            name, label = f"q{index}", f"{index + 1}. {question['text']}"
            if question["kind"] == "rating":
                self.fields[name] = forms.ChoiceField(
                    label=label,
                    choices=[(str(n), f"{n}分") for n in range(1, 6)],
                    widget=forms.RadioSelect,
                    error_messages={"required": "请选择1至5分"},
                )
            elif question["kind"] == "choice":
                self.fields[name] = forms.ChoiceField(
                    label=label,
                    choices=[(option, option) for option in question["options"]],
                    widget=forms.RadioSelect,
                    error_messages={"required": "请选择一个选项", "invalid_choice": "请选择一个选项"},
                )
            else:
                self.fields[name] = forms.CharField(
                    label=label, required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3})
                )

    def answers(self) -> dict[int, str]:
        return {int(name[1:]): value for name, value in self.cleaned_data.items()}


class ActivityForm(Form):
    """A visit to enterprises or a meeting with them (complaints/activities.py)."""

    kind = forms.ChoiceField(label="形式", choices=ObserverActivity.Kind.choices)
    held_on = forms.DateField(label="日期", widget=DATE)
    place = forms.CharField(label="地点", max_length=200)
    organiser = forms.CharField(
        label="组织单位", max_length=100, required=False, help_text="如区工商联、行业协会，可不填"
    )
    enterprise_count = forms.IntegerField(label="参与企业数", min_value=1, max_value=10_000)
    participants = forms.CharField(
        label="参加人员", max_length=500, required=False, help_text="观察员、司法局人员等，不填企业名称"
    )
    problems = forms.CharField(
        label="企业反映的困难和问题",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="只写反映了什么，不写哪家企业反映的；需要核查的具体问题，保存后可据此提交线索",
    )
    suggestions = forms.CharField(
        label="意见和建议", max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("held_on", timezone.localdate())
        super().__init__(*args, **kwargs)


class ActivityFilterForm(Form):
    q = forms.CharField(
        label="搜索", required=False, widget=forms.TextInput(attrs={"placeholder": "地点、组织单位、内容"})
    )
    kind = forms.ChoiceField(
        label="形式", choices=[("", "全部形式"), *ObserverActivity.Kind.choices], required=False
    )
    start = forms.DateField(label="日期起", required=False, widget=DATE)
    end = forms.DateField(label="日期止", required=False, widget=DATE)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("日期起不能晚于日期止")
        return data

from django import forms

from .models import Scope


class ClientForm(forms.Form):
    name = forms.CharField(label="系统名称", max_length=100, help_text="例如：某某区市场监管综合执法系统")
    vendor = forms.CharField(label="承建单位", max_length=100)
    contact = forms.CharField(label="联系人及电话", max_length=100)
    scopes = forms.MultipleChoiceField(
        label="权限范围", choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    allowed_addresses = forms.CharField(
        label="允许的来源地址",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="每行一个 IP 地址或网段（如 10.1.2.0/24）；不填则不限",
    )

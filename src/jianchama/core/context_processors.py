"""What every page's frame shows: the menu of the user's role, grouped by area, and the unread messages.

The menu lists only pages the role may open (each view still checks for itself). core imports no domain app,
so the rules here are the roles' (core/roles.py), mirroring the views' checks; the unread count reads the
notifications table by its app label at run time, once per request and only when a template shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject

from .roles import Role

S, G, B, C, I, D, O, R = (  # noqa: E741 — short names keep the table below readable
    Role.SUPERVISOR,
    Role.DISTRICT_GOVERNMENT,
    Role.BODY_ADMIN,
    Role.CITY_REVIEWER,
    Role.INSPECTOR,
    Role.COMPLAINT_INTAKE,
    Role.OBSERVER,
    # The reconsideration office's work here is its leads (线索互通); the rest of the platform is not its business.
    Role.RECONSIDERATION_OFFICE,
)
STAFF = {S, G, B, C, I, D, O}
NOT_OBSERVER = STAFF - {O}

# (area, label, URL name, roles that may use it). The platform admin sees every staff entry.
MENU: list[tuple[str, str, str, set[str]]] = [
    ("任务", "今日任务", "inspections:my_today", {I}),
    ("任务", "现场执法（离线可用）", "inspections:field_app", {I}),
    ("任务", "检查任务", "inspections:task_list", NOT_OBSERVER),
    ("任务", "检查频次", "inspections:frequency_report", {S, C}),
    ("任务", "触发式检查", "inspections:trigger_report", {S, C, B}),
    ("计划", "检查计划", "plans:plan_list", {I, B, C, S}),
    ("计划", "备案与公告监督", "plans:supervision", {S}),
    ("计划", "计划协调", "plans:coordination", {I, B, C, S}),
    ("计划", "随机抽取结果", "draws:list", {I, B, C, S}),
    ("名录", "执法单位", "registry:body_list", STAFF),
    ("名录", "执法人员", "registry:inspector_list", STAFF),
    ("名录", "企业", "registry:enterprise_list", STAFF),
    ("名录", "检查事项", "registry:item_list", STAFF),
    ("名录", "检查标准", "registry:standard_list", STAFF),
    ("名录", "资格核验", "registry:qualification_check", {B}),
    ("名录", "合规指引", "registry:guide_list", STAFF),
    ("监督", "数据监督", "supervision:dashboard", {S, G}),
    ("监督", "监督三步法", "supervision:steps", {S, G, B}),
    ("监督", "执法抽查", "supervision:sampling_list", {S, B}),
    ("监督", "指导性意见", "supervision:guidance_list", {S, G, B}),
    ("监督", "典型案例与通报", "supervision:bulletin_list", {S, G, B, I}),
    ("监督", "执法监督工作报告", "reports:list", {S}),
    ("监督", "执法单位考核评议", "reports:assessments", {S, G, B}),
    ("投诉", "投诉举报台账", "complaints:ledger", {S, G, D, B}),
    ("投诉", "提交观察意见", "complaints:observe", {O}),
    ("投诉", "走访与座谈", "complaints:activity_list", {O, S}),
    ("投诉", "复议线索", "complaints:lead_list", {S, G, R}),
    ("投诉", "问卷调查", "complaints:survey_list", {S}),
    ("统计", "统计分析", "statistics:index", {S, C, B, G, I}),
    ("统计", "开放数据", "opendata:catalogue", STAFF),
    ("设置", "系统对接", "integrations:client_list", {B}),
    ("设置", "工作日历", "core:calendar", STAFF | {R}),
]

ENTERPRISE_MENU: list[tuple[str, str, str]] = [
    ("企业", "企业首页", "portal:home"),
    ("企业", "我的企业", "registry:enterprise_detail_own"),
    ("企业", "投诉举报", "portal:complaint_list"),
    ("企业", "问卷调查", "portal:survey_list"),
    ("设置", "工作日历", "core:calendar"),
]

# Pages only an inspector may open (his own visits, offline): not in the platform administrator's menu.
INSPECTOR_ONLY = {"inspections:field_app"}

AREAS = ["企业", "任务", "计划", "名录", "监督", "投诉", "统计", "设置"]


@dataclass
class MenuEntry:
    label: str
    url: str
    name: str
    current: bool = False


@dataclass
class MenuGroup:
    area: str
    entries: list[MenuEntry] = field(default_factory=list)

    @property
    def current(self) -> bool:
        return any(e.current for e in self.entries)


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def menu_for(user, path: str = "") -> list[MenuGroup]:
    """The user's menu, grouped by area in a fixed order; the entry whose page is open is marked current."""
    if not user.is_authenticated:
        return []
    if user.role == Role.ENTERPRISE_CONTACT:
        rows = [(area, label, name) for area, label, name in ENTERPRISE_MENU]
    else:
        rows = [
            (area, label, name)
            for area, label, name, roles in MENU
            if user.role in roles or (user.is_platform_admin and name not in INSPECTOR_ONLY)
        ]
    groups: dict[str, MenuGroup] = {}
    entries: list[MenuEntry] = []
    for area, label, name in rows:
        url = _url(name)
        if url is None:
            continue
        entry = MenuEntry(label, url, name)
        entries.append(entry)
        groups.setdefault(area, MenuGroup(area)).entries.append(entry)
    if user.is_platform_admin:
        groups.setdefault("设置", MenuGroup("设置")).entries.append(
            MenuEntry("后台管理", reverse("admin:index"), "admin:index")
        )
    # The longest matching prefix is the current page (/tasks/today/ rather than /tasks/).
    matches = [e for e in entries if path.startswith(e.url) and e.url != "/"]
    if matches:
        max(matches, key=lambda e: len(e.url)).current = True
    return [groups[a] for a in AREAS if a in groups]


def unread_count(request) -> int:
    """The user's unread messages: one COUNT, at most once per request."""
    cached = getattr(request, "_jc_unread_count", None)
    if cached is not None:
        return cached
    from django.apps import apps

    notification = apps.get_model("notifications", "Notification")
    count = notification.objects.visible_to(request.user).filter(read_at__isnull=True).count()
    request._jc_unread_count = count
    return count


def navigation(request):
    """The menu entries for the current user's role, and the unread count (computed only if shown)."""
    user = request.user
    if not user.is_authenticated:
        return {"nav_groups": [], "nav": []}
    groups = menu_for(user, request.path)
    return {
        "nav_groups": groups,
        # The flat list, for pages that list the menu's entries: (label, URL name).
        "nav": [(e.label, e.name) for g in groups for e in g.entries],
        "unread_count": SimpleLazyObject(lambda: unread_count(request)),
        "Role": Role,
    }

from .roles import Role


def navigation(request):
    """The menu entries for the current user's role."""
    user = request.user
    if not user.is_authenticated:
        return {"nav": []}
    entries = []
    if user.role == Role.ENTERPRISE_CONTACT:
        entries += [("企业端", "portal:home"), ("消息", "notifications:inbox")]
        entries.append(("我的企业", "registry:enterprise_detail_own"))
    else:
        if user.role == Role.INSPECTOR:
            entries.append(("今日任务", "inspections:my_today"))
        if user.role != Role.OBSERVER:
            entries.append(("检查任务", "inspections:task_list"))
        if user.is_platform_admin or user.role in (
            Role.INSPECTOR,
            Role.BODY_ADMIN,
            Role.CITY_REVIEWER,
            Role.SUPERVISOR,
        ):
            entries.append(("检查计划", "plans:plan_list"))
        entries += [
            ("执法单位", "registry:body_list"),
            ("执法人员", "registry:inspector_list"),
            ("企业", "registry:enterprise_list"),
            ("检查事项", "registry:item_list"),
        ]
        if user.role == Role.BODY_ADMIN or user.is_platform_admin:
            entries.append(("资格核验", "registry:qualification_check"))
        if user.role in (Role.SUPERVISOR, Role.CITY_REVIEWER) or user.is_platform_admin:
            entries.append(("检查频次", "inspections:frequency_report"))
        if user.role in (Role.SUPERVISOR, Role.CITY_REVIEWER, Role.BODY_ADMIN) or user.is_platform_admin:
            entries.append(("触发式检查", "inspections:trigger_report"))
    entries.append(("工作日历", "core:calendar"))
    return {"nav": entries, "Role": Role}

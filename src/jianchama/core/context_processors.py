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
        entries.append(("投诉举报", "portal:complaint_list"))
    else:
        if user.role == Role.INSPECTOR:
            entries.append(("今日任务", "inspections:my_today"))
        if user.role == Role.RECONSIDERATION_OFFICE:
            # The office's work here is its leads (线索互通); the rest of the platform is not its business.
            return {
                "nav": [("复议线索", "complaints:lead_list"), ("工作日历", "core:calendar")],
                "Role": Role,
            }
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
        # Supervision (F-30–F-36): the bureau's pages; the district government decides; bodies answer.
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT) or user.is_platform_admin:
            entries.append(("数据监督", "supervision:dashboard"))
        if (
            user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.BODY_ADMIN)
            or user.is_platform_admin
        ):
            entries.append(("监督三步法", "supervision:steps"))
        if user.role in (Role.SUPERVISOR, Role.BODY_ADMIN) or user.is_platform_admin:
            entries.append(("执法抽查", "supervision:sampling_list"))
        if (
            user.role
            in (
                Role.SUPERVISOR,
                Role.DISTRICT_GOVERNMENT,
                Role.COMPLAINT_INTAKE,
                Role.BODY_ADMIN,
            )
            or user.is_platform_admin
        ):
            entries.append(("投诉举报台账", "complaints:ledger"))
        if user.role == Role.OBSERVER:
            entries.append(("提交观察意见", "complaints:observe"))
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT) or user.is_platform_admin:
            entries.append(("复议线索", "complaints:lead_list"))
        entries.append(("合规指引", "registry:guide_list"))
    entries.append(("工作日历", "core:calendar"))
    return {"nav": entries, "Role": Role}

"""The roles of DESIGN.md, and what each role belongs to."""

from django.db import models


class Role(models.TextChoices):
    INSPECTOR = "inspector", "执法人员"
    BODY_ADMIN = "body_admin", "执法单位管理员"
    CITY_REVIEWER = "city_reviewer", "市级执法单位审核人"
    SUPERVISOR = "supervisor", "司法局执法监督人员"
    DISTRICT_GOVERNMENT = "district_government", "区政府"
    ENTERPRISE_CONTACT = "enterprise_contact", "企业联系人"
    COMPLAINT_INTAKE = "complaint_intake", "投诉受理人员"
    OBSERVER = "observer", "法治观察员"
    # Seed 003 二（一）1: 「建立行政复议与执法监督线索互通机制」 — the reconsideration office enters its leads itself
    # and sees what became of them.
    RECONSIDERATION_OFFICE = "reconsideration_office", "行政复议机构"
    PLATFORM_ADMIN = "platform_admin", "平台管理员"


# Which attachment each role needs: a body, a region or an enterprise.
BODY_ROLES = {Role.INSPECTOR, Role.BODY_ADMIN, Role.CITY_REVIEWER}
REGION_ROLES = {
    Role.SUPERVISOR,
    Role.DISTRICT_GOVERNMENT,
    Role.COMPLAINT_INTAKE,
    Role.OBSERVER,
    Role.RECONSIDERATION_OFFICE,
}
ENTERPRISE_ROLES = {Role.ENTERPRISE_CONTACT}
STAFF_ROLES = BODY_ROLES | REGION_ROLES | {Role.PLATFORM_ADMIN}

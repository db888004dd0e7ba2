"""Who may perform each legal act of supervision: one table, consulted by every service that performs one.

Seed 003 names the actor of each act: the district justice bureau supervises the bodies of its district
(filing their plans, warning, recommendation letters 金司监建, reviewing the rectification, reporting to the
district government, on-site sampling), and the district government issues the decision letter
(报请区政府制发行政执法监督决定书) and decides the accountability that follows. An act concerning a body is
therefore performed in the name of the body's district (the city's, for a city-level body): by a user of that
role whose region is that district, or a region within it that contains the body. A supervisor of another
district, or of the city for a district's body, acts in no district's name; the platform administrator
configures the platform and performs no legal act.
"""

from __future__ import annotations

from django.db import models

from jianchama.core.errors import PermissionDenied
from jianchama.core.roles import Role

from .models import EnforcementBody, Region


class LegalAct(models.TextChoices):
    FILE_PLAN = "file_plan", "检查计划备案审查"
    WARN = "warn", "预警提醒"
    VERIFY_WARNING = "verify_warning", "核实预警后的整改情况"
    RECOMMEND = "recommend", "制发行政执法监督建议书"
    REVIEW_RECTIFICATION = "review_rectification", "复查监督建议书的整改情况"
    REQUEST_DECISION = "request_decision", "报请区政府制发行政执法监督决定书"
    DECIDE = "decide", "制发行政执法监督决定书"
    ACCOUNTABILITY = "accountability", "决定责任追究措施"
    CONFIRM_DECISION = "confirm_decision", "确认监督决定书的整改情况"
    SAMPLING_REVIEW = "sampling_review", "抽查评查"
    ISSUE_GUIDANCE = "issue_guidance", "提出指导性意见"
    PUBLISH_BULLETIN = "publish_bulletin", "审核发布典型案例、通报"


BUREAU = "bureau"
GOVERNMENT = "government"

# The act → who performs it, in the name of the body's district.
ACTORS: dict[LegalAct, str] = {
    LegalAct.FILE_PLAN: BUREAU,
    LegalAct.WARN: BUREAU,
    LegalAct.VERIFY_WARNING: BUREAU,
    LegalAct.RECOMMEND: BUREAU,
    LegalAct.REVIEW_RECTIFICATION: BUREAU,
    LegalAct.REQUEST_DECISION: BUREAU,
    LegalAct.SAMPLING_REVIEW: BUREAU,
    LegalAct.DECIDE: GOVERNMENT,
    LegalAct.ACCOUNTABILITY: GOVERNMENT,
    LegalAct.CONFIRM_DECISION: BUREAU,
    # Seed 003 二（四）3 and 三（三）: the bureau puts forward guidance opinions and publicises typical cases and
    # bulletins (the 通报批评 a decision orders included: the bureau publishes what the government decided).
    LegalAct.ISSUE_GUIDANCE: BUREAU,
    LegalAct.PUBLISH_BULLETIN: BUREAU,
}
ROLE_OF = {BUREAU: Role.SUPERVISOR, GOVERNMENT: Role.DISTRICT_GOVERNMENT}


def home_region(body: EnforcementBody) -> Region:
    """The region in whose name acts concerning `body` are performed: its district; the city for a city body."""
    if body.level == EnforcementBody.Level.CITY:
        return body.region
    return body.region.district() or body.region


def actor_name(act: LegalAct, body: EnforcementBody) -> str:
    """Who performs `act` for `body`, in words: 「金山区司法局执法监督人员」, 「金山区人民政府」."""
    region = home_region(body).name
    return f"{region}司法局执法监督人员" if ACTORS[act] == BUREAU else f"{region}人民政府"


def may_perform(user, act: LegalAct, body: EnforcementBody) -> bool:
    """Whether `user` may perform `act` concerning `body` (see the module's docstring)."""
    if not getattr(user, "is_authenticated", False) or user.role != ROLE_OF[ACTORS[act]]:
        return False
    if user.region_id is None:
        return False
    home, own = home_region(body).path, user.region.path
    return own.startswith(home) and body.region.path.startswith(own)


def require(user, act: LegalAct, body: EnforcementBody, what: str = "") -> None:
    """Refuse, naming who performs the act, unless `user` may perform it."""
    if not may_perform(user, act, body):
        raise PermissionDenied(f"只有{actor_name(act, body)}可以{what or LegalAct(act).label}")

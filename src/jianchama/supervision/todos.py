"""The supervision to-dos of the home pages (F-46; core/todos.py): findings to check, the three steps'
deadlines for the bureau, the district government's decisions, and what a body must answer."""

from __future__ import annotations

from django.urls import reverse

from jianchama.core import todos
from jianchama.core.roles import Role

from .models import Decision, Finding, Recommendation, SampledBody, SamplingRound, SupervisionWarning
from .sampling import quarter_bounds

SUPERVISOR = frozenset({Role.SUPERVISOR})
BODY_ADMIN = frozenset({Role.BODY_ADMIN})


def findings_to_check(user, today):
    return Finding.objects.visible_to(user).filter(status=Finding.Status.OPEN)


def findings_warned(user, today):
    return Finding.objects.visible_to(user).filter(status=Finding.Status.WARNED, body_id=user.body_id)


def recommendations_to_issue(user, today):
    return SupervisionWarning.objects.visible_to(user).filter(
        outcome=SupervisionWarning.Outcome.NOT_RECTIFIED, finding__recommendation__isnull=True
    )


def recommendations_to_review(user, today):
    return Recommendation.objects.visible_to(user).filter(status=Recommendation.Status.REPORTED)


def recommendations_to_rectify(user, today):
    return Recommendation.objects.visible_to(user).filter(
        body_id=user.body_id, status=Recommendation.Status.ISSUED
    )


def decisions_to_issue(user, today):
    return Recommendation.objects.visible_to(user).filter(status=Recommendation.Status.ESCALATED)


def decisions_to_rectify(user, today):
    return Decision.objects.visible_to(user).filter(body_id=user.body_id, status=Decision.Status.ISSUED)


def sampled_to_review(user, today):
    """Bodies drawn in a revealed round of the supervisor's region (or a region within it) that have no review
    yet (seed 003 二（一）1: the quarter's sampling is done by reviewing the drawn bodies)."""
    if user.region_id is None:
        return SampledBody.objects.none()
    return SampledBody.objects.visible_to(user).filter(
        round__status=SamplingRound.Status.REVEALED,
        round__region__path__startswith=user.region.path,
        reviews__isnull=True,
    )


def _quarter_end(items):
    """The nearest deadline: the end of the earliest quarter with a drawn body still to review (after it, the
    body left without a review is a shortfall of the bureau's own, SamplingShortfall)."""
    first = (
        items.order_by("round__year", "round__quarter").values_list("round__year", "round__quarter").first()
    )
    return quarter_bounds(*first)[1] if first else None


def _sampling_list(user) -> str:
    return reverse("supervision:sampling_list")


def _has_body(user) -> bool:
    return bool(user.body_id)


todos.register(
    todos.TodoKind(
        key="findings_to_check",
        label="待核实的监督问题",
        roles=SUPERVISOR,
        items=findings_to_check,
        url="supervision:finding_list",
        order=30,
    ),
    todos.TodoKind(
        key="recommendations_to_issue",
        label="预警后未整改、待制发监督建议书",
        roles=SUPERVISOR,
        items=recommendations_to_issue,
        url="supervision:steps",
        deadline="recommendation_due",
        deadline_label="制发期限",
        order=31,
    ),
    todos.TodoKind(
        key="recommendations_to_review",
        label="已报送整改报告、待复查的监督建议书",
        roles=SUPERVISOR,
        items=recommendations_to_review,
        url="supervision:steps",
        deadline="review_due",
        deadline_label="复查期限",
        order=32,
    ),
    todos.TodoKind(
        key="sampled_to_review",
        label="抽中待评查的执法单位",
        roles=SUPERVISOR,
        items=sampled_to_review,
        url=_sampling_list,
        deadline=_quarter_end,
        deadline_label="季度末",
        order=33,
    ),
    todos.TodoKind(
        key="decisions_to_issue",
        label="待制发的监督决定书",
        roles=frozenset({Role.DISTRICT_GOVERNMENT}),
        items=decisions_to_issue,
        url="supervision:steps",
        order=30,
    ),
    todos.TodoKind(
        key="findings_warned",
        label="收到预警提醒、待整改反馈的问题",
        roles=BODY_ADMIN,
        items=findings_warned,
        url="supervision:finding_list",
        order=30,
        applies=_has_body,
    ),
    todos.TodoKind(
        key="recommendations_to_rectify",
        label="待整改的监督建议书",
        roles=BODY_ADMIN,
        items=recommendations_to_rectify,
        url="supervision:steps",
        deadline="rectify_by",
        deadline_label="整改期限",
        order=31,
        applies=_has_body,
    ),
    todos.TodoKind(
        key="decisions_to_rectify",
        label="待整改的监督决定书",
        roles=BODY_ADMIN,
        items=decisions_to_rectify,
        url="supervision:steps",
        deadline="deadline",
        deadline_label="整改期限",
        order=32,
        applies=_has_body,
    ),
)

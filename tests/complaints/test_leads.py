"""Reconsideration leads (F-35): registered by supervision, become findings, and go back."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from jianchama.complaints import services
from jianchama.complaints.models import ReconsiderationLead
from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.supervision.models import Finding
from jianchama.supervision.services import dismiss_finding

pytestmark = pytest.mark.django_db

L = ReconsiderationLead.Status


def lead(s, actor=None, **overrides):
    args = {
        "case_number": "金府复〔2026〕12号",
        "body": s.body,
        "description": "复议中发现检查未出示执法证件",
        "received_on": timezone.localdate(),
    }
    return services.register_lead(actor or s.supervisor, **{**args, **overrides})


def test_a_supervisor_registers_a_lead_linked_to_a_body_and_task(s):
    task = s.notified()
    registered = lead(s, task=task)
    assert (
        registered.status == L.REGISTERED
        and registered.task == task
        and registered.registered_by == s.supervisor
    )
    assert audit.history(registered).get().action == "lead.registered"


def test_registration_refusals(s):
    for refused in (s.intake, s.head, s.mh_supervisor, s.government):
        with pytest.raises(PermissionDenied):
            lead(s, refused)
    with pytest.raises(DomainError) as problems:
        lead(
            s, case_number=" ", description="", received_on=timezone.localdate() + datetime.timedelta(days=2)
        )
    assert problems.value.problems == ["请填写复议案号", "请填写问题线索", "收到日期不能晚于今天"]
    with pytest.raises(DomainError, match="未参加检查任务"):
        lead(s, body=s.partner, task=s.notified())
    assert not ReconsiderationLead.objects.exists()


def test_accepting_makes_a_finding_and_the_result_goes_back(s):
    task = s.notified()
    accepted = services.accept_lead(s.supervisor, lead=lead(s, task=task), severity="high")
    finding = accepted.finding
    assert accepted.status == L.ACCEPTED
    assert (
        finding.source == Finding.Source.RECONSIDERATION and finding.body == s.body and finding.task == task
    )
    assert finding.severity == "high" and finding.evidence[0]["model"] == "complaints.ReconsiderationLead"
    with pytest.raises(InvalidTransition, match="已转为监督问题"):
        services.accept_lead(s.supervisor, lead=accepted)
    dismiss_finding(s.supervisor, finding=finding, note="核实后不成立")
    with pytest.raises(DomainError, match="请填写反馈复议机构的情况"):
        services.return_lead(s.supervisor, lead=accepted, note="")
    returned = services.return_lead(s.supervisor, lead=accepted, note="经核实不成立，已告知")
    assert returned.status == L.RETURNED and returned.returned_at and returned.returned_note
    event = audit.history(returned).last()
    assert event.action == "lead.returned" and event.after["finding_status"] == "经核实不成立"
    with pytest.raises(InvalidTransition):
        services.return_lead(s.supervisor, lead=returned, note="again")


def test_a_lead_may_go_back_without_a_finding_but_not_by_others(s):
    registered = lead(s)
    with pytest.raises(PermissionDenied):
        services.return_lead(s.mh_supervisor, lead=registered, note="x")
    with pytest.raises(PermissionDenied):
        services.accept_lead(s.intake, lead=registered)
    returned = services.return_lead(s.supervisor, lead=registered, note="不属于执法监督事项")
    with pytest.raises(InvalidTransition, match="已反馈复议机构"):
        services.accept_lead(s.supervisor, lead=returned)
    assert not Finding.objects.exists()


def test_leads_are_seen_by_the_regions_supervision_only(s):
    registered = lead(s)
    assert list(ReconsiderationLead.objects.visible_to(s.supervisor)) == [registered]
    assert list(ReconsiderationLead.objects.visible_to(s.government)) == [registered]
    for other in (s.mh_supervisor, s.intake, s.head, s.contact, s.observer):
        assert not ReconsiderationLead.objects.visible_to(other).exists()

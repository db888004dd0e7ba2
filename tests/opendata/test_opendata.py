"""Open data (F-43): the catalogue and its machine-readable index, each dataset's CSV (UTF-8 BOM, formulas
neutralised) and JSON per year at stable URLs, small counts written "<5", the yearly caps lookup of one enterprise
(by USCC and exact name, counting as the frequency check counts, in a fixed number of queries), rate limits."""

from __future__ import annotations

import csv
import datetime
import io
import json

import pytest
from django.core.cache import cache
from django.utils import timezone

from jianchama.inspections import services as inspections
from jianchama.inspections.models import FrequencyRule, Task
from jianchama.opendata import caps
from jianchama.opendata.catalogue import DATASETS, small
from jianchama.plans import services as plans
from jianchama.supervision.models import Bulletin
from tests.factories import EnterpriseFactory, filed_plan, make_uscc
from tests.inspections.conftest import inspector_with_account

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def bulletin(s, *, title="典型案例", audience="public", status="published", published_at=None):
    return Bulletin.objects.create(
        region=s.jinshan,
        kind=Bulletin.Kind.TYPICAL_CASE,
        audience=audience,
        title=title,
        text="某单位无码入企。",
        status=status,
        created_by=s.supervisor,
        published_at=published_at or timezone.now(),
    )


def read_csv(response) -> list[list[str]]:
    data = response.content
    assert data.startswith("\ufeff".encode()), "CSV must start with the UTF-8 byte order mark"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_index_lists_every_dataset_with_a_working_file_per_year_and_format(s, client):
    index = client.get("/open-data/index.json")
    assert index.status_code == 200
    body = index.json()
    assert body["@type"] == "dcat:Catalog" and body["license"].startswith("https://creativecommons.org/")
    assert {d["identifier"] for d in body["dataset"]} == set(DATASETS)
    year = timezone.localdate().year
    for dataset in body["dataset"]:
        assert dataset["columns"] and dataset["title"] and dataset["description"]
        yearly = [d for d in dataset["distribution"] if "temporal" in d]
        this_year = [d for d in yearly if d["temporal"]["startDate"] == f"{year}-01-01"]
        assert {d["format"] for d in this_year} == {"CSV", "JSON"}
        for live in (d for d in dataset["distribution"] if "temporal" not in d):  # read live: the caps list
            assert client.get(live["downloadURL"].replace("http://testserver", "")).status_code == 200
        for distribution in this_year:
            url = distribution["downloadURL"].replace("http://testserver", "")
            assert url == f"/open-data/{dataset['identifier']}/{year}.{distribution['format'].lower()}"
            response = client.get(url)
            assert response.status_code == 200, url
            if distribution["format"] == "CSV":
                assert read_csv(response)[0] == [c["title"] for c in dataset["columns"]]
            else:
                assert response.json()["period"]["year"] == year
    page = client.get("/open-data/").content.decode()
    for dataset in DATASETS.values():
        assert dataset.title in page
    assert client.get(f"/open-data/plans/{year + 1}.csv").status_code == 404
    assert client.get(f"/open-data/nothing/{year}.csv").status_code == 404


def test_published_plans_of_the_year_and_nothing_else(s, client):
    published = filed_plan(s.body, items=[s.item], title="燃气安全年度检查计划")
    plans.publish_plan(s.head, plan=published)
    filed_plan(s.body, items=[s.item], title="未公告的计划")
    year = timezone.localdate().year
    rows = read_csv(client.get(f"/open-data/plans/{year}.csv"))
    assert [r[3] for r in rows[1:]] == ["燃气安全年度检查计划"]
    records = client.get(f"/open-data/plans/{year}.json").json()["records"]
    assert records[0]["number"] == published.number and records[0]["body"] == s.body.name


def test_public_bulletins_only_and_formulas_neutralised(s, client):
    bulletin(s, title='=HYPERLINK("http://evil")公开案例')
    bulletin(s, title="内部通报", audience="district_bodies")
    bulletin(s, title="撤回的通报", status="withdrawn")
    bulletin(s, title="草稿", status="draft")
    year = timezone.localdate().year
    rows = read_csv(client.get(f"/open-data/bulletins/{year}.csv"))
    titles = [r[3] for r in rows[1:]]
    assert len(titles) == 1 and titles[0].startswith("'=HYPERLINK")
    records = client.get(f"/open-data/bulletins/{year}.json").json()["records"]
    assert [r["title"] for r in records] == ['=HYPERLINK("http://evil")公开案例']


def test_small_counts_are_written_less_than_five(s, client):
    assert [small(n) for n in (0, 1, 4, 5, 12)] == [0, "<5", "<5", 5, 12]
    year = timezone.localdate().year
    for n in range(3):
        bulletin(s, title=f"案例{n}")
    record = client.get(f"/open-data/supervision-counts/{year}.json").json()["records"]
    assert record == [
        {
            "region": "金山区",
            "year": year,
            "guidance_issued": 0,
            "bulletins_published": "<5",
            "sampling_rounds": 0,
            "bodies_sampled": 0,
        }
    ]
    for n in range(2):
        bulletin(s, title=f"又一案例{n}")
    record = client.get(f"/open-data/supervision-counts/{year}.json").json()["records"][0]
    assert record["bulletins_published"] == 5
    rows = read_csv(client.get(f"/open-data/supervision-counts/{year}.csv"))
    assert rows[1][3] == "5"


# --- The yearly caps --------------------------------------------------------------------------------------------


def submitted_task(s, *, actor=None, enterprise=None, start=None):
    actor = actor or s.inspector_user
    start = start or timezone.localdate()
    if actor != s.inspector_user and not hasattr(s, "partner_inspector2"):
        s.partner_inspector2 = inspector_with_account(s.partner, "钱七")
    inspectors = (
        [s.inspector, s.inspector2]
        if actor == s.inspector_user
        else [s.partner_inspector, s.partner_inspector2]
    )
    task = inspections.create_task(
        actor,
        enterprise=enterprise or s.enterprise,
        items=[s.item] if actor == s.inspector_user else [s.partner_item],
        inspectors=inspectors,
        legal_basis="《城镇燃气管理条例》",
        kind=Task.Kind.COMPLAINT,
        window_start=start,
        window_end=start + datetime.timedelta(days=3),
        reason="投诉",
        evidence="12345工单",
    )
    return inspections.submit_task(actor, task=task)


@pytest.fixture
def rules(s):
    all_bodies = FrequencyRule.objects.create(
        name="各部门合计每年不超过3次", scope="all_bodies", period="year", limit=3, action="warn"
    )
    per_body = FrequencyRule.objects.create(
        name="同一部门每年不超过1次",
        scope="per_body",
        period="year",
        limit=1,
        action="warn",
        exemptions=["complaint"],
    )
    FrequencyRule.objects.create(
        name="D级企业每年不超过5次", scope="all_bodies", period="year", limit=5, action="warn", risk_grade="D"
    )
    FrequencyRule.objects.create(
        name="每月不超过3次", scope="all_bodies", period="month", limit=3, action="warn"
    )
    return all_bodies, per_body


def test_an_enterprise_sees_its_yearly_caps_and_how_much_is_used(s, rules, client):
    submitted_task(s)
    submitted_task(s)
    submitted_task(s, actor=s.partner_inspector_user)
    draft = inspections.create_task(
        s.inspector_user,
        enterprise=s.enterprise,
        items=[s.item],
        inspectors=[s.inspector, s.inspector2],
        legal_basis="x",
        kind=Task.Kind.COMPLAINT,
        window_start=timezone.localdate(),
        window_end=timezone.localdate(),
        reason="投诉",
        evidence="工单",
    )
    assert draft.status == Task.Status.DRAFT  # drafts do not count
    found = caps.usage(s.enterprise, caps.yearly_rules())
    assert [(u.rule.name, u.used, u.remaining, u.reached) for u in found] == [
        ("各部门合计每年不超过3次", 3, 0, True),
        ("同一部门每年不超过1次", 2, 0, True),
    ]
    response = client.get("/open-data/caps/", {"uscc": s.enterprise.uscc, "name": s.enterprise.name})
    page = response.content.decode()
    assert response.status_code == 200 and "已达上限" in page and "D级" not in page
    data = client.get(
        "/open-data/caps.json", {"uscc": s.enterprise.uscc.lower(), "name": s.enterprise.name}
    ).json()
    assert data["found"] and [(c["name"], c["used"], c["limit"]) for c in data["caps"]] == [
        ("各部门合计每年不超过3次", 3, 3),
        ("同一部门每年不超过1次", 2, 1),
    ]
    # Another enterprise: nothing used.
    fresh = caps.usage(s.other_enterprise, caps.yearly_rules())
    assert [(u.used, u.remaining) for u in fresh] == [(0, 3), (0, 1)]


def test_a_task_of_last_year_does_not_count_this_year(s, rules):
    task = submitted_task(s)
    last_year = datetime.date(timezone.localdate().year - 1, 12, 30)
    Task.objects.filter(pk=task.pk).update(window_start=last_year, window_end=last_year)
    assert [u.used for u in caps.usage(s.enterprise, caps.yearly_rules())] == [0, 0]
    assert [u.used for u in caps.usage(s.enterprise, caps.yearly_rules(), year=last_year.year)] == [1, 1]


def test_the_lookup_needs_the_uscc_and_the_exact_name(s, rules, client):
    answer = client.get("/open-data/caps/", {"uscc": s.enterprise.uscc, "name": "金山燃气"})
    assert "未找到" in answer.content.decode() and s.enterprise.name not in answer.content.decode()
    bad = client.get("/open-data/caps/", {"uscc": "91310000ABCDEFGHIJ", "name": "x"})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    assert client.get("/open-data/caps.json", {"uscc": "123"}).status_code == 400
    unknown = client.get(
        "/open-data/caps.json", {"uscc": make_uscc(9_999_998), "name": "不存在的公司"}
    ).json()
    assert unknown == {"year": timezone.localdate().year, "found": False, "enterprise": None, "caps": []}
    # NUL in a name with a valid code: no query error on PostgreSQL, just not found
    nul = client.get("/open-data/caps/", {"uscc": s.enterprise.uscc, "name": "金山\x00燃气有限公司"})
    assert (
        nul.status_code == 200 and "未找到" not in nul.content.decode()
    )  # the NUL is dropped: it is the name
    for junk in ("\x00", "' OR 1=1 --", "名" * 500):
        assert client.get("/open-data/caps/", {"uscc": junk, "name": junk}).status_code == 200


def test_the_lookup_costs_the_same_however_many_inspections(s, rules, client, django_assert_num_queries):
    params = {"uscc": s.enterprise.uscc, "name": s.enterprise.name}
    with django_assert_num_queries(3):
        client.get("/open-data/caps.json", params)
    big = EnterpriseFactory(name="多次被检查的公司", region=s.jinshan)
    for _ in range(6):
        submitted_task(s, enterprise=big)
    with django_assert_num_queries(3):
        data = client.get("/open-data/caps.json", {"uscc": big.uscc, "name": big.name}).json()
    assert [c["used"] for c in data["caps"]] == [6, 6]


def test_public_files_cost_a_fixed_number_of_queries(s, client, django_assert_max_num_queries):
    year = timezone.localdate().year
    for n in range(2):
        bulletin(s, title=f"案例{n}")
    with django_assert_max_num_queries(3) as few:
        client.get(f"/open-data/bulletins/{year}.json")
    for n in range(20):
        bulletin(s, title=f"更多案例{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(f"/open-data/bulletins/{year}.json")
    with django_assert_max_num_queries(12):
        client.get("/open-data/index.json")


def test_rate_limited_per_address(s, client, settings):
    settings.OPEN_DATA_RATE_LIMIT = "2/m"
    answers = [client.get("/open-data/index.json").status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert client.get("/open-data/caps/").status_code == 429


def test_the_index_is_valid_json_with_chinese_unescaped(s, client):
    raw = client.get("/open-data/index.json").content.decode()
    assert "检查码平台开放数据" in raw
    json.loads(raw)

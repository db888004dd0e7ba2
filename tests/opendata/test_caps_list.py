"""The public list of every enterprise's yearly caps (F-43, issue 13; 国办发〔2024〕54号): the same numbers as the
one-enterprise lookup, keyset pages by USCC that visit every enterprise once, filters by district and by the start
of a name or USCC, bad input answered 200/400, a page's queries independent of its rows, and the list's CSV
(streamed, UTF-8 BOM, formulas neutralised) equal to its pages."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jianchama.opendata import caps
from jianchama.registry.models import Enterprise, Region
from tests.factories import EnterpriseFactory
from tests.opendata.test_opendata import rules, submitted_task  # noqa: F401  (the rules fixture)

pytestmark = pytest.mark.django_db

URL, CSV_URL = "/open-data/caps/", "/open-data/caps.csv"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


class ListPage(HTMLParser):
    """The list's rows as the page shows them: USCC → {name, district, caps: [(rule, used, limit)]}, and the
    next page's link."""

    def __init__(self, html: str):
        super().__init__()
        self.rows: dict[str, dict] = {}
        self.order: list[str] = []
        self.next = ""
        self._row = None
        self._label = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-uscc" in a:
            self._row = {"name": "", "uscc": "", "district": "", "caps": []}
            self.rows[a["data-uscc"]] = self._row
            self.order.append(a["data-uscc"])
        elif tag == "td" and self._row is not None:
            self._label = a.get("data-label")
        elif tag == "span" and a.get("class") == "cap" and self._row is not None:
            self._row["caps"].append((a["data-rule"], int(a["data-used"]), int(a["data-limit"])))
        elif tag == "a" and a.get("id") == "next-page":
            self.next = a["href"]

    def handle_endtag(self, tag):
        if tag == "td":
            self._label = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        keys = {"企业名称": "name", "统一社会信用代码": "uscc", "所在区": "district"}
        if self._row is not None and self._label in keys:
            self._row[keys[self._label]] += data.strip()


def list_page(client, **params) -> ListPage:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content.decode()[:500]
    return ListPage(response.content.decode())


def every_page(client, **params) -> tuple[list[str], int]:
    """The USCCs of every page, following 下一页 from the first; and how many pages."""
    seen, pages = [], 0
    response = client.get(URL, params)
    while True:
        pages += 1
        page = ListPage(response.content.decode())
        assert len(page.order) <= caps.PAGE_SIZE
        seen += page.order
        if not page.next:
            return seen, pages
        assert len(page.order) == caps.PAGE_SIZE
        cache.clear()  # the open-data rate limit is not what this walks
        response = client.get(URL + page.next.split("#")[0])
        assert response.status_code == 200


def read_csv(response) -> list[list[str]]:
    assert response.streaming, "the list's CSV is streamed"
    data = b"".join(response.streaming_content)
    assert data.startswith("\ufeff".encode()), "CSV must start with the UTF-8 byte order mark"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_list_shows_the_lookups_numbers_for_each_enterprise(s, rules, client):  # noqa: F811
    submitted_task(s)
    submitted_task(s)
    submitted_task(s, actor=s.partner_inspector_user)
    submitted_task(s, enterprise=s.other_enterprise)
    s.mh_enterprise.risk_grade = "D"  # the grade-D rule applies to it alone
    s.mh_enterprise.save()
    page = list_page(client)
    assert page.order == sorted(e.uscc for e in (s.enterprise, s.other_enterprise, s.mh_enterprise))
    for enterprise in (s.enterprise, s.other_enterprise, s.mh_enterprise):
        lookup = client.get("/open-data/caps.json", {"uscc": enterprise.uscc, "name": enterprise.name}).json()
        row = page.rows[enterprise.uscc]
        assert row["name"] == enterprise.name and row["uscc"] == enterprise.uscc
        assert row["caps"] == [(c["name"], c["used"], c["limit"]) for c in lookup["caps"]]
    assert page.rows[s.enterprise.uscc]["caps"] == [
        ("各部门合计每年不超过3次", 3, 3),
        ("同一部门每年不超过1次", 2, 1),
    ]
    assert page.rows[s.other_enterprise.uscc]["caps"] == [
        ("各部门合计每年不超过3次", 1, 3),
        ("同一部门每年不超过1次", 1, 1),
    ]
    assert ("D级企业每年不超过5次", 0, 5) in page.rows[s.mh_enterprise.uscc]["caps"]
    assert page.rows[s.enterprise.uscc]["district"] == "金山区"
    assert page.rows[s.mh_enterprise.uscc]["district"] == "闵行区"
    html = client.get(URL).content.decode()
    assert "已达上限" in html and "下一页" not in html
    assert 'class="responsive"' in html and 'data-label="上限与已用"' in html
    # A town's enterprise is shown under its district.
    town = Region.objects.create(code="310116101", name="朱泾镇", level="town", parent=s.jinshan)
    in_town = EnterpriseFactory(name="朱泾燃气有限公司", region=town)
    assert list_page(client).rows[in_town.uscc]["district"] == "金山区"


def test_keyset_pages_visit_every_enterprise_exactly_once(s, client):
    # Minhang and two of its towns: a district's page merges its regions' runs (on PostgreSQL, one per region)
    towns = [
        Region.objects.create(code=f"31011200{n}", name=f"镇{n}", level="town", parent=s.minhang)
        for n in (1, 2)
    ]
    for n in range(117):
        EnterpriseFactory(region=[s.minhang, *towns][n % 3])
    everyone = sorted(Enterprise.objects.values_list("uscc", flat=True))
    seen, pages = every_page(client)
    assert seen == everyone and len(set(seen)) == len(seen) == 120
    assert pages == 3
    seen, pages = every_page(client, region="310112")
    assert len(seen) == len(set(seen)) == 118 and pages == 3
    in_minhang = Enterprise.objects.filter(region__path__startswith=s.minhang.path)
    assert seen == sorted(in_minhang.values_list("uscc", flat=True))
    assert every_page(client, region="310116")[0] == sorted([s.enterprise.uscc, s.other_enterprise.uscc])
    with CaptureQueriesContext(connection) as district_page:
        list_page(client, region="310112")
    merged = any("UNION ALL" in q["sql"] for q in district_page.captured_queries)
    assert merged == connection.features.supports_slicing_ordering_in_compound  # PostgreSQL: yes
    # Past the last enterprise: an empty page, no 下一页.
    end = client.get(URL, {"after": everyone[-1]})
    assert end.status_code == 200 and "没有更多企业了" in end.content.decode()
    assert "next-page" not in end.content.decode()


def test_filters_by_district_and_by_the_start_of_a_name_or_uscc(s, client):
    jinshan = {s.enterprise.uscc, s.other_enterprise.uscc}
    assert set(list_page(client, region="310116").order) == jinshan
    assert list_page(client, region="310112").order == [s.mh_enterprise.uscc]
    assert list_page(client, region="").order == sorted(jinshan | {s.mh_enterprise.uscc})
    assert set(list_page(client, q="金山").order) == jinshan
    assert list_page(client, q="金山燃气").order == [s.enterprise.uscc]
    assert list_page(client, q="燃气").order == []  # the start of a name, not any part of it
    assert list_page(client, q="闵行", region="310116").order == []
    # The start of a USCC, typed in lower case and with spaces.
    code = s.enterprise.uscc
    assert list_page(client, q=f" {code[:17].lower()} ").order == [code]
    assert list_page(client, q=code).order == [code]
    # A name that starts with characters a USCC may hold is still found by its name.
    abc = EnterpriseFactory(name="3M中国有限公司", region=s.jinshan)
    assert list_page(client, q="3M").order == [abc.uscc]
    empty = client.get(URL, {"q": "不存在的公司"}).content.decode()
    assert "没有符合条件的企业" in empty
    page = client.get(URL, {"region": "310116", "q": "金山"}).content.decode()
    assert 'value="金山"' in page and '<option value="310116" selected>' in page


def test_the_start_of_a_uscc_is_a_range_of_codes_and_pages_like_the_rest(s, client):
    assert [caps._code_ceiling(p) for p in ("9131", "91Y", "9", "Y", "YY", "")] == [
        "9132",
        "92",
        "A",
        "",
        "",
        "",
    ]
    EnterpriseFactory.create_batch(70, region=s.minhang)
    named = EnterpriseFactory(name="91号仓储有限公司", region=s.minhang)  # a name that looks like a code
    seen, pages = every_page(client, q="91")
    everyone = sorted(Enterprise.objects.values_list("uscc", flat=True))
    assert seen == everyone and pages == 2 and named.uscc in seen
    code = s.enterprise.uscc
    assert every_page(client, q=code[:10])[0] == [u for u in everyone if u.startswith(code[:10])]


def test_bad_input_is_answered_never_a_server_error(s, client):
    for params, status in [
        ({"after": "garbage"}, 200),  # letters a USCC may hold: just past every registered code
        ({"after": "<script>"}, 400),
        ({"after": "9" * 19}, 400),
        ({"after": "\x00"}, 200),  # NUL dropped: the first page
        ({"after": "ÄÖ"}, 400),
        ({"region": "abc"}, 400),
        ({"region": "999999"}, 400),
        ({"region": "310116001"}, 400),  # a town is not a district
        ({"region": "\x00"}, 200),
        ({"q": "名" * 5000}, 400),
        ({"q": "x" * 100}, 200),
        ({"q": "' OR 1=1 --"}, 200),
        ({"q": "金山\x00"}, 200),
        ({"q": "%_"}, 200),
    ]:
        cache.clear()
        response = client.get(URL, params)
        assert response.status_code == status, (params, response.status_code)
        if status == 400:
            assert "errorlist" in response.content.decode()
        cache.clear()
        csv_status = client.get(CSV_URL, params).status_code
        assert csv_status == (200 if "after" in params else status), params  # a file has no page
    assert list_page(client, q="%").order == []  # a wildcard is a character like any other
    assert list_page(client, q="金山\x00").order == sorted([s.enterprise.uscc, s.other_enterprise.uscc])
    bad = client.get(URL, {"region": "abc"}).content.decode()
    assert "没有这个区" in bad


def test_a_page_costs_the_same_queries_for_5_and_50_enterprises(
    s,
    rules,  # noqa: F811
    client,
    django_assert_max_num_queries,
):
    def add(n: int):
        for _ in range(n):
            submitted_task(s, enterprise=EnterpriseFactory(name="计数公司", region=s.jinshan))

    add(5)
    with CaptureQueriesContext(connection) as five:
        page = list_page(client, q="计数公司")
    assert len(page.order) == 5 and all(row["caps"][0][1] == 1 for row in page.rows.values())
    add(45)
    cache.clear()
    with django_assert_max_num_queries(len(five.captured_queries)):
        page = list_page(client, q="计数公司")
    assert len(page.order) == 50 and all(row["caps"][0][1] == 1 for row in page.rows.values())
    # regions, rules, the page's enterprises, their tasks of the year
    assert len(five.captured_queries) <= 4


def test_the_csv_equals_the_pages_rows_and_neutralises_formulas(s, rules, client):  # noqa: F811
    submitted_task(s)
    submitted_task(s, actor=s.partner_inspector_user)
    evil = EnterpriseFactory(name='=HYPERLINK("http://evil","点击")有限公司', region=s.jinshan)
    EnterpriseFactory.create_batch(60, region=s.minhang)
    year = str(timezone.localdate().year)
    # Every page's rows, one line per cap as the CSV has them.
    shown, response = [], client.get(URL)
    while True:
        page = ListPage(response.content.decode())
        for uscc in page.order:
            row = page.rows[uscc]
            head = [uscc, row["name"], row["district"], year]
            shown += [[*head, rule, str(limit), str(used)] for rule, used, limit in row["caps"]] or [head]
        if not page.next:
            break
        cache.clear()
        response = client.get(URL + page.next.split("#")[0])
    cache.clear()
    response = client.get(CSV_URL)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = read_csv(response)
    assert lines[0] == caps.CSV_HEADER
    body = lines[1:]
    written = [
        [uscc, name[1:] if name.startswith("'=") else name, district, y]
        + ([rule, limit, used] if rule else [])
        for uscc, name, district, y, rule, _scope, _where, limit, used, _left, _reached in body
    ]
    assert written == shown and len({line[0] for line in body}) == 64
    mine = [line for line in body if line[0] == s.enterprise.uscc]
    assert [(x[4], x[7], x[8], x[9], x[10]) for x in mine] == [
        ("各部门合计每年不超过3次", "3", "2", "1", "否"),
        ("同一部门每年不超过1次", "1", "1", "0", "是"),
    ]
    formula = [line for line in body if line[0] == evil.uscc]
    assert formula and all(line[1] == "'" + evil.name for line in formula)
    # The filter applies to the file; ?after (a page) does not.
    cache.clear()
    only = read_csv(client.get(CSV_URL, {"region": "310116", "after": s.enterprise.uscc}))
    assert {line[0] for line in only[1:]} == {s.enterprise.uscc, s.other_enterprise.uscc, evil.uscc}
    # The page links to the CSV of its filter.
    cache.clear()
    page_html = client.get(URL, {"region": "310116", "q": "金"}).content.decode()
    assert 'href="/open-data/caps.csv?region=310116&amp;q=%E9%87%91"' in page_html


def test_the_csv_reads_the_registry_in_chunks_by_keyset(s, client, monkeypatch):
    monkeypatch.setattr(caps, "CSV_CHUNK", 7)
    EnterpriseFactory.create_batch(30, region=s.minhang)
    with CaptureQueriesContext(connection) as queries:
        lines = read_csv(client.get(CSV_URL))[1:]
    usccs = [line[0] for line in lines]
    assert len(usccs) == len(set(usccs)) == 33 and usccs == sorted(usccs)
    enterprise_reads = [q for q in queries.captured_queries if 'FROM "registry_enterprise"' in q["sql"]]
    assert len(enterprise_reads) == 5  # 7 + 7 + 7 + 7 + 5 (the last, short, ends it)
    assert all("LIMIT 7" in q["sql"] for q in enterprise_reads)


def test_linked_from_the_catalogue_and_its_index(s, client):
    catalogue = client.get("/open-data/").content.decode()
    assert 'href="/open-data/caps/"' in catalogue and 'href="/open-data/caps.csv"' in catalogue
    index = client.get("/open-data/index.json").json()
    dataset = next(d for d in index["dataset"] if d["identifier"] == "inspection-caps")
    assert dataset["landingPage"] == "http://testserver/open-data/caps/"
    live = [d for d in dataset["distribution"] if d["downloadURL"] == "http://testserver/open-data/caps.csv"]
    assert len(live) == 1 and live[0]["mediaType"] == "text/csv"


def test_the_list_and_its_csv_are_rate_limited(s, client, settings):
    settings.OPEN_DATA_RATE_LIMIT = "2/m"
    assert [client.get(URL).status_code for _ in range(2)] == [200, 200]
    assert client.get(CSV_URL).status_code == 429
    assert client.get(URL, {"after": "1"}).status_code == 429

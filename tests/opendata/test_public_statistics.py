"""The public statistics page (F-43): figures from the fact tables equal direct counts, small cells protected
(also against differencing two publications), no login, rate limit, Chinese errors, CSV/JSON equal the page."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.cache import cache
from django.utils import timezone

from jianchama.inspections import frequency, services
from jianchama.inspections.models import Task
from jianchama.opendata.public_statistics import HIDDEN, protect
from jianchama.statistics import build

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def make_tasks(s, count: int, enterprise=None) -> list[Task]:
    """`count` submitted tasks (counted inspections) at `enterprise`, then the facts rebuilt."""
    made = []
    for _ in range(count):
        task = s.draft(enterprise=enterprise or s.enterprise)
        made.append(services.submit_task(s.inspector_user, task=task))
    build.rebuild_all()
    return made


def direct(region_code: str, year: int) -> int:
    """The counted inspections at the district's enterprises (the fixture's bodies are all the district's)."""
    return sum(
        1
        for t in Task.objects.filter(enterprise__region__path__contains=f"{region_code}/")
        if t.status in frequency.COUNTED and frequency.inspection_date(t).year == year
    )


def values(response) -> dict[str, str]:
    html = response.content.decode()
    out = {}
    for part in html.split('<tr data-key="')[1:]:
        key = part.split('"', 1)[0]
        value = part.split('class="value">', 1)[1].split("</td>", 1)[0]
        out[key] = value.replace("&lt;", "<")
    return out


def test_protect_rounds_and_hides_small_counts():
    assert [protect(n) for n in (0, 1, 4, 5, 7, 8, 12, 13, 100)] == [0, HIDDEN, HIDDEN, 5, 5, 10, 10, 15, 100]


def test_figures_equal_direct_counts_no_login_needed(s, client):
    make_tasks(s, 12)
    year = timezone.localdate().year
    page = client.get(f"/open-data/statistics/{s.jinshan.code}/?year={year}")
    assert page.status_code == 200
    got = values(page)
    assert direct(s.jinshan.code, year) == 12
    assert got["inspections"] == str(protect(12)) == "10"
    assert got["enterprises"] == HIDDEN  # one enterprise inspected
    assert got["repeated"] == HIDDEN
    city = values(client.get(f"/open-data/statistics/?year={year}"))
    assert city["inspections"] == "10"


def test_a_small_cell_is_hidden_and_not_derivable_by_differencing(s, client):
    year = timezone.localdate().year
    make_tasks(s, 3)
    first = values(client.get(f"/open-data/statistics/{s.jinshan.code}/?year={year}"))
    assert first["inspections"] == HIDDEN
    # A second release after two more inspections, and the city beside the district: differences of the
    # published figures never give the small count (3, then 2 more).
    make_tasks(s, 2)
    second = values(client.get(f"/open-data/statistics/{s.jinshan.code}/?year={year}"))
    assert second["inspections"] == "5"
    city = values(client.get(f"/open-data/statistics/?year={year}"))
    assert city["inspections"] == "5"
    # The two releases read "<5" then 5, city and district alike: with 3 then 2 more, or 4 then 3 more (7
    # rounds to 5), the same pages are published, so their difference does not give the hidden count.
    assert protect(5) == protect(7) == 5


def test_bad_region_or_year_gives_chinese_errors(s, client):
    assert client.get("/open-data/statistics/999999/").status_code == 404
    bad = client.get("/open-data/statistics/?year=1900")
    assert bad.status_code == 400 and "年度" in bad.content.decode()
    assert client.get("/open-data/statistics/?year=abc").status_code == 400
    assert client.get("/open-data/statistics/?quarter=7").status_code == 400


def test_rate_limited(s, client, settings):
    settings.OPEN_DATA_RATE_LIMIT = "2/m"
    answers = [client.get("/open-data/statistics/").status_code for _ in range(3)]
    assert answers == [200, 200, 429]


def test_csv_and_json_equal_the_page(s, client):
    make_tasks(s, 7)
    year = timezone.localdate().year
    code = s.jinshan.code
    page = values(client.get(f"/open-data/statistics/{code}/?year={year}"))
    data = client.get(f"/open-data/statistics/{code}.json?year={year}").json()
    assert {k: str(v) for k, v in data["record"].items() if k in page} == page
    raw = client.get(f"/open-data/statistics/{code}.csv?year={year}").content
    assert raw.startswith("\ufeff".encode())
    head, row = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    titles = [c["title"] for c in data["columns"]]
    assert head[3:] == titles
    assert row[3:] == [page[c["key"]] for c in data["columns"]]


def test_the_catalogue_dataset_has_the_page_figures_per_region(s, client):
    make_tasks(s, 7)
    year = timezone.localdate().year
    index = client.get("/open-data/index.json").json()
    assert "public-statistics" in {d["identifier"] for d in index["dataset"]}
    data = client.get(f"/open-data/public-statistics/{year}.json").json()
    by_code = {r["region_code"]: r for r in data["records"]}
    page = values(client.get(f"/open-data/statistics/{s.jinshan.code}/?year={year}"))
    assert {k: str(v) for k, v in by_code[s.jinshan.code].items() if k in page} == page
    assert by_code[s.jinshan.code]["inspections"] == 5
    raw = client.get(f"/open-data/public-statistics/{year}.csv").content
    assert raw.startswith("\ufeff".encode())

"""Open data pages (F-43), public and rate-limited per client address (`OPEN_DATA_RATE_LIMIT`, 60/m):
the catalogue at /open-data/, its machine-readable index (DCAT-like JSON), each dataset's file per year as CSV
(UTF-8 with BOM, formulas neutralised) or JSON at a stable URL, the lookup of one enterprise's yearly caps, and
the paged list of every enterprise's caps with its streamed CSV.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django_ratelimit.core import get_usage

from jianchama.core import spreadsheets
from jianchama.core.replica import replica_reads
from jianchama.core.views import rate_limited
from jianchama.registry.models import Region

from . import caps
from .catalogue import DATASETS, LICENCE, PUBLISHER, SMALL_COUNT, years

RATE_LIMIT = "60/m"


def _limited(request) -> bool:
    rate = getattr(settings, "OPEN_DATA_RATE_LIMIT", RATE_LIMIT)
    usage = get_usage(request, group="open-data", key="ip", rate=rate, increment=True)
    return bool(usage and usage["should_limit"])


def _file_url(request, slug: str, year: int, fmt: str) -> str:
    return request.build_absolute_uri(
        reverse("opendata:file", kwargs={"slug": slug, "year": year, "fmt": fmt})
    )


def _modified(dataset) -> str:
    moment = dataset.modified()
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


@replica_reads
def catalogue(request):
    if _limited(request):
        return rate_limited(request)
    entries = [
        {
            "dataset": d,
            "modified": _modified(d),
            "page": reverse(d.page) if d.page else "",
            "downloads": [(x, reverse(x.url_name)) for x in d.downloads],
        }
        for d in DATASETS.values()
    ]
    return render(
        request,
        "opendata/catalogue.html",
        {"entries": entries, "years": years(), "licence": LICENCE, "small": SMALL_COUNT},
    )


@replica_reads
def index_json(request):
    """The catalogue for machines: DCAT vocabulary in JSON-LD form (dcat:Catalog, dcat:Dataset,
    dcat:Distribution with its download URL, media type and temporal coverage), plus each dataset's columns."""
    if _limited(request):
        return rate_limited(request)
    datasets = []
    for d in DATASETS.values():
        distributions = []
        for year in years():
            for fmt, media in (("csv", "text/csv"), ("json", "application/json")):
                distributions.append(
                    {
                        "@type": "dcat:Distribution",
                        "title": f"{d.title}（{year}年）{fmt.upper()}",
                        "format": fmt.upper(),
                        "mediaType": media,
                        "downloadURL": _file_url(request, d.slug, year, fmt),
                        "temporal": {"startDate": f"{year}-01-01", "endDate": f"{year}-12-31"},
                    }
                )
        for extra in d.downloads:
            media = "text/csv" if extra.fmt == "csv" else "application/json"
            distributions.append(
                {
                    "@type": "dcat:Distribution",
                    "title": extra.title,
                    "description": extra.description,
                    "format": extra.fmt.upper(),
                    "mediaType": media,
                    "downloadURL": request.build_absolute_uri(reverse(extra.url_name)),
                }
            )
        datasets.append(
            {
                "@type": "dcat:Dataset",
                "identifier": d.slug,
                "title": d.title,
                "description": d.description,
                "keyword": list(d.keywords),
                "modified": _modified(d),
                "license": LICENCE["url"],
                "publisher": PUBLISHER,
                "accrualPeriodicity": "实时（每次发布即更新）",
                "landingPage": request.build_absolute_uri(reverse(d.page)) if d.page else "",
                "columns": [{"key": c.key, "title": c.title, "definition": c.definition} for c in d.columns],
                "distribution": distributions,
            }
        )
    body = {
        "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"},
        "@type": "dcat:Catalog",
        "title": "检查码平台开放数据",
        "publisher": PUBLISHER,
        "license": LICENCE["url"],
        "homepage": request.build_absolute_uri(reverse("opendata:catalogue")),
        "generated_at": timezone.localtime().isoformat(timespec="seconds"),
        "small_count_rule": f"统计数值小于{SMALL_COUNT}的显示为「<{SMALL_COUNT}」",
        "dataset": datasets,
    }
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False, "indent": 1})


@replica_reads
def dataset_file(request, slug: str, year: int, fmt: str):
    if _limited(request):
        return rate_limited(request)
    dataset, year = DATASETS.get(slug), int(year)  # re_path gives text
    if dataset is None or year not in years() or fmt not in ("csv", "json"):
        raise Http404("没有这个数据集或年度")
    records = list(dataset.rows(request, year))
    if fmt == "csv":
        keys = [c.key for c in dataset.columns]
        return spreadsheets.csv_response(
            f"{slug}-{year}.csv", dataset.header, ([r[k] for k in keys] for r in records)
        )
    body = {
        "dataset": slug,
        "title": dataset.title,
        "period": {"year": year, "start": f"{year}-01-01", "end": f"{year}-12-31"},
        "generated_at": timezone.localtime().isoformat(timespec="seconds"),
        "license": LICENCE["url"],
        "columns": [{"key": c.key, "title": c.title, "definition": c.definition} for c in dataset.columns],
        "count": len(records),
        "records": records,
    }
    return HttpResponse(
        json.dumps(body, ensure_ascii=False, indent=1), content_type="application/json; charset=utf-8"
    )


def _lookup(request):
    # NUL is never part of a code or a name (and PostgreSQL refuses it in a query's text)
    code = (request.GET.get("uscc") or "").replace("\x00", "")[:40]
    name = (request.GET.get("name") or "").replace("\x00", "")[:201]
    asked = bool(code or name)
    problems = caps.lookup_problems(code, name) if asked else []
    enterprise = caps.find_enterprise(code, name) if asked and not problems else None
    rules = caps.yearly_rules() if enterprise else []
    return {
        "asked": asked,
        "problems": problems,
        "enterprise": enterprise,
        "usage": caps.usage(enterprise, rules) if enterprise else [],
        "year": timezone.localdate().year,
        "uscc": code,
        "name": name,
    }


def _caps_list(request):
    """The filter and the page of the public caps list, and the status to answer with (400: a bad filter)."""
    regions = caps.Regions()
    found, problems = caps.list_filter(regions, request.GET.get("region"), request.GET.get("q"))
    after, problem = caps.list_after(request.GET.get("after"))
    if problem:
        problems.append(problem)
    year = timezone.localdate().year
    rows, next_after = (
        ([], "") if problems else caps.page(found, regions, caps.yearly_rules(), after=after, year=year)
    )
    context = {
        "listing": True,
        "problems": problems,
        "rows": rows,
        "next_after": next_after,
        "after": after,
        "districts": regions.districts,
        "district": found.district,
        "q": found.prefix,
        "year": year,
    }
    return context, 400 if problems else 200


@replica_reads
def caps_lookup(request):
    """One enterprise's yearly caps and their use this year, by its USCC and exact name; without them, the
    paged list of every enterprise's caps."""
    if _limited(request):
        return rate_limited(request)
    if "uscc" in request.GET or "name" in request.GET:
        return render(request, "opendata/caps.html", _lookup(request))
    context, status = _caps_list(request)
    return render(request, "opendata/caps.html", context, status=status)


@replica_reads
def caps_csv(request):
    """The list's CSV for its filter (not its page): streamed, read by the same keyset in chunks."""
    if _limited(request):
        return rate_limited(request)
    regions = caps.Regions()
    found, problems = caps.list_filter(regions, request.GET.get("region"), request.GET.get("q"))
    if problems:
        return HttpResponseBadRequest("；".join(problems).encode(), content_type="text/plain; charset=utf-8")
    year = timezone.localdate().year
    rules = caps.yearly_rules()

    def lines():
        for row in caps.every_row(found, regions, rules, year=year):
            yield from caps.csv_lines(row, year)

    name = f"inspection-caps-{found.district.code if found.district else 'all'}-{year}.csv"
    return spreadsheets.csv_streaming_response(name, caps.CSV_HEADER, lines())


@replica_reads
def caps_json(request):
    if _limited(request):
        return rate_limited(request)
    found = _lookup(request)
    if not found["asked"] or found["problems"]:
        return JsonResponse({"problems": found["problems"] or ["请提供 uscc 和 name 参数"]}, status=400)
    enterprise = found["enterprise"]
    body = {
        "year": found["year"],
        "found": enterprise is not None,
        "enterprise": {"uscc": enterprise.uscc, "name": enterprise.name} if enterprise else None,
        "caps": [u.as_json() for u in found["usage"]],
    }
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


def _statistics_context(request, code: str | None):
    """The region, period and published rows of the public statistics page, or an error response."""
    from . import public_statistics as ps

    if code is None:
        region = Region.objects.filter(level=Region.Level.CITY).order_by("code").first()
    else:
        region = Region.objects.filter(
            code=code, level__in=(Region.Level.CITY, Region.Level.DISTRICT)
        ).first()
    if region is None:
        raise Http404("没有这个区")
    available = years()
    year_text = request.GET.get("year", "")
    year = ps.valid_year(year_text, available) if year_text else timezone.localdate().year
    quarter_text = request.GET.get("quarter", "")
    if year is None or quarter_text not in ("", "1", "2", "3", "4"):
        return None, HttpResponseBadRequest(
            f"年度须为{available[0]}—{available[-1]}年之一，季度须为1—4或不选。".encode(),
            content_type="text/plain; charset=utf-8",
        )
    period = ps.period_of(year, int(quarter_text) if quarter_text else None)
    return {
        "region": region,
        "period": period,
        "year": year,
        "quarter": quarter_text,
        "years": available,
        "regions": ps.regions(),
        "rows": ps.rows(region, period),
        "small": ps.SMALL,
    }, None


@replica_reads
def public_statistics(request, code: str | None = None):
    if _limited(request):
        return rate_limited(request)
    context, error = _statistics_context(request, code)
    if error:
        return error
    return render(request, "opendata/statistics.html", context)


@replica_reads
def public_statistics_file(request, code: str, fmt: str):
    if _limited(request):
        return rate_limited(request)
    context, error = _statistics_context(request, code)
    if error:
        return error
    published = context["rows"]
    region, period = context["region"], context["period"]
    if fmt == "csv":
        head = ["区划代码", "区域", "期间"] + [r.title for r in published]
        body = [[region.code, region.name, period.label] + [r.value for r in published]]
        return spreadsheets.csv_response(f"statistics-{region.code}-{period.start:%Y%m}.csv", head, body)
    from . import public_statistics as ps

    body = {
        "dataset": "public-statistics",
        "region": {"code": region.code, "name": region.name},
        "period": {"label": period.label, "start": period.start.isoformat(), "end": period.end.isoformat()},
        "generated_at": timezone.localtime().isoformat(timespec="seconds"),
        "license": LICENCE["url"],
        "small_count_rule": "1—4写作「<5」，5及以上按5取整；分母小于5的比率不显示",
        "columns": [{"key": r.key, "title": r.title, "definition": r.definition} for r in published],
        "record": ps.as_record(region, period, published),
    }
    return HttpResponse(
        json.dumps(body, ensure_ascii=False, indent=1), content_type="application/json; charset=utf-8"
    )

"""The API's OpenAPI document and docs page (issue 12, item 1): served at /api/v1/, nothing fetched from outside."""

import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_openapi_document_is_served_with_the_chinese_title(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "检查码平台接口"
    assert "只做增量变更" in document["info"]["description"]


@pytest.mark.django_db
def test_docs_page_loads_only_vendored_assets_allowed_by_the_csp(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    # Every script, stylesheet and icon is a same-origin static file that exists in the build.
    for url in urls:
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), url
    assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
    # The page holds no inline script to run (the settings block is JSON data), so script-src 'self' suffices,
    # and the online validator is off: the page asks nothing of another origin.
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert '"validatorUrl": null' in html
    assert '"url": "/api/v1/openapi.json"' in html
    for attributes in re.findall(r"<script([^>]*)>", html):
        assert "src=" in attributes or 'type="application/json"' in attributes

"""The API docs page in a real Chromium (issue 12, item 1): Swagger UI renders from vendored assets under the
site's Content-Security-Policy (the csp_violations watcher fails the test on any refusal), and the page asks
nothing of another origin."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_docs_render_without_outside_requests(live_server, browser):
    page = browser.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15000)
    assert "检查码平台接口" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_load_state("networkidle")
    assert requested
    outside = [
        url for url in requested if not url.startswith(live_server.url) and not url.startswith("data:")
    ]
    assert outside == []
    page.close()

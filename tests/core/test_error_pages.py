"""The error pages speak Chinese in the site's style (issue 14): 404 with DEBUG off and on, 403, 500."""

import pytest
from django.test import Client

from jianchama.core.roles import Role
from tests.factories import user_for

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_address_is_a_chinese_404_page_with_the_menu(settings, debug):
    settings.DEBUG = debug
    client = Client()
    client.force_login(user_for(Role.INSPECTOR, full_name="陆志刚"))
    response = client.get("/no-such-page/")
    page = text(response)
    assert response.status_code == 404
    assert "<h1>页面不存在</h1>" in page and "/no-such-page/" in page
    assert 'class="topbar"' in page and "陆志刚" in page and "今日任务" in page
    assert "DEBUG" not in page and "Page not found" not in page


def test_a_view_s_own_404_is_kept_with_debug_on(settings, client):
    """A view's 404 that says something specific (an unknown plan) is not replaced."""
    settings.DEBUG = True
    client.force_login(user_for(Role.INSPECTOR))
    response = client.get("/plans/999999/")
    assert response.status_code == 404


def test_a_403_page_is_chinese_with_the_site_frame(client):
    client.force_login(user_for(Role.ENTERPRISE_CONTACT))
    response = client.get("/supervision/")
    assert response.status_code == 403
    page = text(response)
    assert "无权访问" in page and 'class="topbar"' in page


def test_the_500_page_is_chinese_in_the_site_style_without_the_database(settings):
    from django.urls import path

    from jianchama import urls

    def broken(request):
        raise RuntimeError("boom")

    settings.ROOT_URLCONF = type(
        "U", (), {"urlpatterns": [path("broken/", broken)], "handler500": urls.handler500}
    )
    client = Client(raise_request_exception=False)
    response = client.get("/broken/")
    page = text(response)
    assert response.status_code == 500
    assert "<h1>服务器出错</h1>" in page and "/static/css/site.css" in page and 'class="topbar"' in page

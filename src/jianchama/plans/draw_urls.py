"""Random draw URLs, under /draws/: the public pages and JSON first, then the body's pages."""

from django.urls import path

from . import draw_views

app_name = "draws"

urlpatterns = [
    path("", draw_views.draw_list, name="list"),
    path("<int:pk>/", draw_views.draw_detail, name="detail"),
    path("<int:pk>.json", draw_views.draw_json, name="json"),
    path("verify_draw.py", draw_views.verifier, name="verifier"),
    path("plan/<int:plan_pk>/", draw_views.plan_draws, name="plan_draws"),
    path("<int:pk>/reveal/", draw_views.reveal, name="reveal"),
    path("<int:pk>/withdraw/", draw_views.withdraw, name="withdraw"),
    path("conflicts/", draw_views.conflicts, name="conflicts"),
]

"""Open data (F-43): the catalogue, its JSON index, each dataset's file per year, the yearly caps lookup and list."""

from django.urls import path, re_path

from . import views

app_name = "opendata"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("index.json", views.index_json, name="index_json"),
    path("caps/", views.caps_lookup, name="caps"),
    path("caps.json", views.caps_json, name="caps_json"),
    path("caps.csv", views.caps_csv, name="caps_csv"),
    path("statistics/", views.public_statistics, name="statistics"),
    re_path(r"^statistics/(?P<code>[0-9]{6,12})/$", views.public_statistics, name="statistics_region"),
    re_path(
        r"^statistics/(?P<code>[0-9]{6,12})\.(?P<fmt>csv|json)$",
        views.public_statistics_file,
        name="statistics_file",
    ),
    re_path(
        r"^(?P<slug>[a-z-]{1,40})/(?P<year>[0-9]{4})\.(?P<fmt>csv|json)$", views.dataset_file, name="file"
    ),
]

"""Pages of the supervision app: sampling."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

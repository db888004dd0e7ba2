"""Pages of the supervision app: steps."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

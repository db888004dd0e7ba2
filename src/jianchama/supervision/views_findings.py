"""Pages of the supervision app: findings."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

"""The root URLs with the inbox mounted at notifications/, until the root URL module includes it."""

from django.urls import include, path

from jianchama.urls import urlpatterns as root_urlpatterns

urlpatterns = list(root_urlpatterns)
if not any(getattr(p, "namespace", None) == "notifications" for p in root_urlpatterns):
    urlpatterns.insert(0, path("notifications/", include("jianchama.notifications.urls")))

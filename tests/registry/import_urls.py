"""The root URLs plus the import pages, for tests until the root urls.py mounts them at registry/import/."""

from django.urls import include, path

from jianchama.urls import urlpatterns as root_urlpatterns

urlpatterns = list(root_urlpatterns)
if not any(getattr(p, "namespace", None) == "registry_import" for p in urlpatterns):
    urlpatterns.insert(0, path("registry/import/", include("jianchama.registry.import_urls")))

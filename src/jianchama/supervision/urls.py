from . import views_findings, views_sampling, views_steps

app_name = "supervision"

# Each part of the app keeps its routes beside its views.
urlpatterns = views_findings.urlpatterns + views_sampling.urlpatterns + views_steps.urlpatterns

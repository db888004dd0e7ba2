from django.urls import path, re_path

from . import views

app_name = "plans"

urlpatterns = [
    path("", views.plan_list, name="plan_list"),
    path("new/", views.plan_create, name="plan_create"),
    path("supervision/", views.supervision, name="supervision"),
    path("coordination/", views.coordination, name="coordination"),
    path("coordination/propose/", views.coordination_propose, name="coordination_propose"),
    path("coordination/<int:pk>/", views.proposal_detail, name="proposal_detail"),
    re_path(
        r"^coordination/(?P<pk>[0-9]+)/(?P<action>accept|decline)/$",
        views.proposal_action,
        name="proposal_action",
    ),
    path("public/", views.public_list, name="public_list"),
    path("public/<int:pk>/", views.public_detail, name="public_detail"),
    path("public.csv", views.public_csv, name="public_csv"),
    path("public.json", views.public_json, name="public_json"),
    path("<int:pk>/", views.plan_detail, name="plan_detail"),
    path("<int:pk>/edit/", views.plan_edit, name="plan_edit"),
    # Only these actions, so that routes added under <pk>/ (the random draws) are not taken for actions.
    re_path(
        r"^(?P<pk>[0-9]+)/(?P<action>submit|approve|return|publish)/$", views.plan_action, name="plan_action"
    ),
]

from django.urls import path, re_path

from .views import draws, plans

app_name = "plans"

urlpatterns = [
    path("", plans.plan_list, name="plan_list"),
    path("new/", plans.plan_create, name="plan_create"),
    path("supervision/", plans.supervision, name="supervision"),
    path("coordination/", plans.coordination, name="coordination"),
    path("coordination/propose/", plans.coordination_propose, name="coordination_propose"),
    path("coordination/<int:pk>/", plans.proposal_detail, name="proposal_detail"),
    re_path(
        r"^coordination/(?P<pk>[0-9]+)/(?P<action>accept|decline)/$",
        plans.proposal_action,
        name="proposal_action",
    ),
    path("public/", plans.public_list, name="public_list"),
    path("public/<int:pk>/", plans.public_detail, name="public_detail"),
    path("public.csv", plans.public_csv, name="public_csv"),
    path("public.json", plans.public_json, name="public_json"),
    path("<int:pk>/", plans.plan_detail, name="plan_detail"),
    path("<int:pk>/edit/", plans.plan_edit, name="plan_edit"),
    # Only these actions, so that routes added under <pk>/ (the random draws) are not taken for actions.
    re_path(
        r"^(?P<pk>[0-9]+)/(?P<action>submit|approve|return|publish)/$", plans.plan_action, name="plan_action"
    ),
]

# Random draws, under /draws/: the public pages and JSON first, then the body's pages (namespace 'draws'; the project's urls.py mounts them).
draw_urlpatterns = [
    path("", draws.draw_list, name="list"),
    path("<int:pk>/", draws.draw_detail, name="detail"),
    path("<int:pk>.json", draws.draw_json, name="json"),
    path("verify_draw.py", draws.verifier, name="verifier"),
    path("plan/<int:plan_pk>/", draws.plan_draws, name="plan_draws"),
    path("<int:pk>/reveal/", draws.reveal, name="reveal"),
    path("<int:pk>/withdraw/", draws.withdraw, name="withdraw"),
    path("conflicts/", draws.conflicts, name="conflicts"),
]

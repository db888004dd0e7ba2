"""The supervision app's routes: data findings and rule runs, sampling, the three steps, guidance opinions, typical cases and bulletins."""

from django.urls import path

from .views import bulletins, findings, guidance, sampling, steps

app_name = "supervision"

urlpatterns = [
    # findings
    path("", findings.dashboard, name="dashboard"),
    path("findings/", findings.finding_list, name="finding_list"),
    path("findings/<int:pk>/", findings.finding_detail, name="finding_detail"),
    path("findings/<int:pk>/dismiss/", findings.finding_dismiss, name="finding_dismiss"),
    path("rules/run/", findings.run_rules_now, name="run_rules"),
    path("rules/runs/", findings.run_list, name="run_list"),
    # sampling
    path("sampling/", sampling.round_list, name="sampling_list"),
    path("sampling/<int:pk>/", sampling.round_detail, name="sampling_detail"),
    path("sampling/<int:pk>.json", sampling.round_json, name="sampling_json"),
    path("sampling/verify_sampling.py", sampling.verifier, name="sampling_verifier"),
    path("sampling/<int:pk>/reveal/", sampling.reveal, name="sampling_reveal"),
    path("sampling/<int:pk>/withdraw/", sampling.withdraw, name="sampling_withdraw"),
    path("sampling/sheets/", sampling.sheet_list, name="score_sheet_list"),
    path("sampling/sheets/new/", sampling.sheet_create, name="score_sheet_create"),
    path("sampling/sheets/<int:pk>/edit/", sampling.sheet_edit, name="score_sheet_edit"),
    path("sampling/sampled/<int:pk>/review/", sampling.review_create, name="sampling_review_create"),
    path("sampling/reviews/", sampling.review_list, name="sampling_review_list"),
    path("sampling/reviews/<int:pk>/", sampling.review_detail, name="sampling_review_detail"),
    # steps
    path("steps/", steps.steps_list, name="steps"),
    path("steps/findings/<int:pk>/warn/", steps.finding_warn, name="finding_warn"),
    path("steps/findings/<int:pk>/recommend/", steps.finding_recommend, name="finding_recommend"),
    path(
        "steps/findings/<int:pk>/recommend-direct/",
        steps.finding_recommend_direct,
        name="finding_recommend_direct",
    ),
    path("steps/warnings/<int:pk>/<str:action>/", steps.warning_action, name="warning_action"),
    path("steps/recommendations/<int:pk>/", steps.recommendation_detail, name="recommendation_detail"),
    path("steps/recommendations/<int:pk>/document.pdf", steps.recommendation_pdf, name="recommendation_pdf"),
    path(
        "steps/recommendations/<int:pk>/report-file/",
        steps.recommendation_report_file,
        name="recommendation_report_file",
    ),
    path("steps/recommendations/<int:pk>/decide/", steps.decision_create, name="decision_create"),
    path(
        "steps/recommendations/<int:pk>/<str:action>/",
        steps.recommendation_action,
        name="recommendation_action",
    ),
    path("steps/decisions/<int:pk>/", steps.decision_detail, name="decision_detail"),
    path("steps/decisions/<int:pk>/document.pdf", steps.decision_pdf, name="decision_pdf"),
    path("steps/decisions/<int:pk>/<str:action>/", steps.decision_action, name="decision_action"),
    # guidance opinions (F-37)
    path("guidance/", guidance.guidance_list, name="guidance_list"),
    path("guidance/new/", guidance.guidance_create, name="guidance_create"),
    path("guidance/<int:pk>/", guidance.guidance_detail, name="guidance_detail"),
    path("guidance/<int:pk>/document.pdf", guidance.guidance_pdf, name="guidance_pdf"),
    path("guidance/<int:pk>/<str:action>/", guidance.guidance_action, name="guidance_action"),
    # typical cases and bulletins (F-37), notified criticism (F-33)
    path("bulletins/", bulletins.bulletin_list, name="bulletin_list"),
    path("bulletins/new/", bulletins.bulletin_create, name="bulletin_create"),
    path("bulletins/public/", bulletins.public_list, name="bulletin_public_list"),
    path("bulletins/public/<int:pk>/", bulletins.public_detail, name="bulletin_public_detail"),
    path("bulletins/<int:pk>/", bulletins.bulletin_detail, name="bulletin_detail"),
    path("bulletins/<int:pk>/<str:action>/", bulletins.bulletin_action, name="bulletin_action"),
]

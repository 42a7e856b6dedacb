"""The survey page ``/survey/<token>/``: no login; a clear page (400/404/410) for a bad link, never a 500."""

from __future__ import annotations

from django import forms
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from opsdesk.exceptions import DomainValidationError
from opsdesk.web import add_domain_errors

from . import survey as surveys


class SurveyForm(forms.Form):
    """Rating 1–5 (required) and a comment; the service checks both again."""

    rating = forms.TypedChoiceField(
        choices=[(r, str(r)) for r in surveys.RATINGS], coerce=int,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        label="How satisfied are you with how your incident was handled? (1 = very unsatisfied, 5 = very satisfied)",
    )
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=2000)


LINK_ERRORS = {
    surveys.SurveyLinkInvalid: (400, "This link is not valid",
                                "The survey link is incomplete or has been changed. Please use the link from "
                                "the email exactly as it was sent."),
    surveys.SurveyNotFound: (404, "Survey not found", "This survey no longer exists."),
    surveys.SurveyLinkExpired: (410, "This survey has closed",
                                "Survey links are valid for a limited time, and this one has expired. "
                                "Thank you all the same."),
}


def _page(request, context: dict, status: int = 200):
    return TemplateResponse(request, "incidents/survey.html", context, status=status)


@require_http_methods(["GET", "POST"])
def survey_page(request, token: str):
    """Show the survey, take its one answer, or explain why not."""
    try:
        survey = surveys.survey_from_token(token)
    except tuple(LINK_ERRORS) as exc:
        status, title, text = LINK_ERRORS[type(exc)]
        return _page(request, {"problem": {"title": title, "text": text}}, status=status)
    incident = survey.incident
    context = {"survey": survey, "number": incident.number}
    answer = getattr(survey, "answer", None)
    if answer is not None:
        return _page(request, {**context, "answered": answer}, status=409 if request.method == "POST" else 200)
    form = SurveyForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                answer = surveys.survey_answer(survey=survey, **form.cleaned_data)
            except DomainValidationError as exc:
                add_domain_errors(form, exc)
            except surveys.SurveyAlreadyAnswered:
                survey.refresh_from_db()
                return _page(request, {**context, "answered": survey.answer}, status=409)
            else:
                return _page(request, {**context, "answered": answer, "thanks": True})
        return _page(request, {**context, "form": form}, status=400)
    return _page(request, {**context, "form": form})

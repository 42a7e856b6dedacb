"""The satisfaction survey (§5): one survey per resolved incident, answered at most once.

Writes go through ``incidents.survey``.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class SatisfactionSurvey(models.Model):
    """The survey emailed to an incident's caller (else its reporter) when it was first resolved."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="survey")
    recipient = models.EmailField(help_text="The address the link was sent to.")
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = "satisfaction survey"

    def __str__(self) -> str:
        return f"Survey of {self.incident}"


class SurveyAnswer(models.Model):
    """The one answer to a survey: the one-to-one key refuses a second (even a concurrent) answer."""

    survey = models.OneToOneField(SatisfactionSurvey, on_delete=models.CASCADE, related_name="answer")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(blank=True, max_length=2000)
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-answered_at", "-id"]
        verbose_name = "survey answer"
        constraints = [
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="survey_rating_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.survey.incident}"

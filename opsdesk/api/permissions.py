"""API permissions: model permissions for reads as well as writes."""

from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Like DRF's, but reading needs ``view_<model>`` too (API Readers hold exactly those)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def _queryset(self, view):
        # Only the model matters here: a view's class-level ``queryset`` names it without building
        # ``get_queryset()`` (a list's joins, annotations and prefetches) a second time per request.
        queryset = getattr(view, "queryset", None)
        return queryset if queryset is not None else super()._queryset(view)

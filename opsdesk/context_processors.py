"""Template context for the base layout's navigation."""

from .roles import user_roles


def navigation(request):
    user = getattr(request, "user", None)
    return {"user_roles": user_roles(user) if user is not None else set()}

"""API plumbing shared by incidents, changes and releases: transitions as POST actions.

``transition_actions(Model, inputs)`` adds one ``POST /{id}/{transition}/``
action per ``@transition`` of the model to a viewset; each validates its body
with the transition's input serializer and calls the viewset's
``transition_service`` (the app's one service function for transitions).
Domain errors become 400/403/409 in ``opsdesk.api.exceptions``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from opsdesk.workflow import available_transitions_page


class TransitionInput(serializers.Serializer):
    """The body every transition accepts."""

    comment = serializers.CharField(required=False, allow_blank=True, default="")
    expected_state = serializers.CharField(
        required=False,
        help_text="The state you saw; if the object has moved on since, the answer is 409.",
    )


@extend_schema_field(serializers.ListField(child=serializers.CharField()))
class AvailableTransitionsField(serializers.Field):
    """The transitions the requesting user may take now (read-only)."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, obj):
        prepared = self.context.get(PAGE_TRANSITIONS)  # a page's, from ``prepare_transitions``
        if prepared is not None and obj.pk in prepared:
            return prepared[obj.pk]
        request = self.context.get("request")
        # One dict per response: a list computes each state's permitted transitions once (per page).
        page = self.context.setdefault("available_transitions_page", {})
        return obj.available_transitions_for(request.user if request else None, page)


PAGE_TRANSITIONS = "available_transitions"


def prepare_transitions(rows, context: dict) -> None:
    """Compute ``available_transitions`` of a page's rows in one pass (``available_transitions_page``)
    into the serializer ``context``, where ``AvailableTransitionsField`` reads them."""
    request = context.get("request")
    context[PAGE_TRANSITIONS] = available_transitions_page(rows, request.user if request else None)


def transition_actions(model, inputs: dict[str, type[serializers.Serializer]] | None = None):
    """Class decorator: one POST action per transition of ``model``.

    ``inputs`` maps a transition name to its input serializer (a subclass of
    ``TransitionInput`` with the fields the transition needs).
    """
    inputs = inputs or {}

    def decorate(viewset_cls):
        for name in model().transition_names():
            input_serializer = inputs.get(name, TransitionInput)

            def make(name=name, input_serializer=input_serializer):
                def run(self, request, pk=None):
                    instance = self.get_object()
                    body = input_serializer(data=request.data)
                    body.is_valid(raise_exception=True)
                    data = dict(body.validated_data)
                    updated = type(self).transition_service(
                        instance=instance,
                        name=name,
                        by=request.user,
                        comment=data.pop("comment", ""),
                        expected_state=data.pop("expected_state", None),
                        **data,
                    )
                    return Response(self.get_serializer(updated).data)

                # DRF maps HTTP methods to the function's name: name it after the transition
                # before @action records it.
                run.__name__ = name
                run.__qualname__ = f"{viewset_cls.__name__}.{name}"
                run = action(
                    detail=True,
                    methods=["post"],
                    url_path=name,
                    url_name=name.replace("_", "-"),
                    permission_classes=[IsAuthenticated],
                )(run)
                return extend_schema(
                    request=input_serializer,
                    responses={200: viewset_cls.serializer_class},
                    summary=f"{name.replace('_', ' ').capitalize()} (transition)",
                    description=(
                        f"Runs the `{name}` transition. 403 without the permission, "
                        "409 when not allowed from the current state (the body names what is missing) "
                        "or when `expected_state` no longer holds, 400 for bad input."
                    ),
                )(run)

            setattr(viewset_cls, name, make())
        return viewset_cls

    return decorate

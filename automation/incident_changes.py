""""Raise a change" for an action item of a post-incident review (§2.1).

A draft normal change requested by the person who asks, on the incident's
service, linked to the incident, and the action item points at it. This lives
in the automation app because it writes two processes' records in one
transaction: a change (``changes.services``) and the action item
(``incidents.review``); neither process app may import the other's services.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from changes import services as change_services
from changes.choices import ChangeType
from changes.models import ChangeRequest
from incidents import review
from incidents.models import ActionItem
from opsdesk.workflow import log_transition

from .text import incident_label

ADD_CHANGE = "changes.add_changerequest"


@transaction.atomic
def action_item_raise_change(*, item: ActionItem, by) -> ChangeRequest:
    """Create the change of ``item`` and link it; returns the change.

    403 without ``changes.add_changerequest`` (or when ``by`` may not see the
    incident); 409 when the item is not open or already has a change (the item
    row is locked, so two requests at once raise one change). The change's text
    names a confidential incident only as "a confidential incident".
    """
    if by is None or not by.is_authenticated or not by.is_active or not by.has_perm(ADD_CHANGE):
        raise PermissionDenied("You may not create changes.")
    locked = review.lock_for_change(item=item, by=by)
    incident = locked.incident
    service = incident.service
    label = incident_label(incident)
    owner = locked.owner.get_full_name() or locked.owner.get_username()
    change = change_services.change_create(
        by=by,
        title=locked.title[:200],
        description=(
            f"Raised from an action item of the post-incident review of {label}: {locked.title}\n"
            f"Item owner: {owner}; due {locked.due_date:%Y-%m-%d}."
        ),
        change_type=ChangeType.NORMAL,  # the risk follows the score until the questionnaire is answered
        business_justification=f"Preventive work decided in the review of {label}.",
        implementer=service.owner_team,
        services=[service],
        incidents=[incident.pk],
    )
    log_transition(
        obj=change, name="create", from_state="", to_state=change.state, by=by,
        comment=f"Raised from an action item of {label}.",
    )
    review.action_item_link_change(item=locked, change=change, by=by)
    return change

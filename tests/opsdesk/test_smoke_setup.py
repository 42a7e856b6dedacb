import pytest
from django.contrib.auth.models import Group

from incidents.models import SLAPolicy
from opsdesk.choices import Role


@pytest.mark.django_db
def test_migrations_create_the_eight_roles_and_the_handbook_policies():
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)
    assert SLAPolicy.objects.count() == 4

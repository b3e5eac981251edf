"""Staff accounts as the site has them: a member of the "Sales" group (its permission set
re-applied, since transactional tests flush what the data migration made) and a superuser."""

from enquiries.services.sales_group import sales_group_sync
from tests.factories import UserFactory


def sales_member(username: str = "sasha"):
    user = UserFactory(username=username, first_name="Sasha", last_name="Sales")
    user.groups.add(sales_group_sync())
    return user


def superuser(username: str = "root"):
    return UserFactory(username=username, is_superuser=True)

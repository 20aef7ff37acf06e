"""Factories for portal users; create them inside a tenant_context."""

from django.contrib.auth.hashers import make_password
from factory.declarations import Sequence
from factory.django import DjangoModelFactory
from factory.faker import Faker

from customerinfo.core.accounts.models import Role, User

PASSWORD = "a-long-test-password"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User

    email = Sequence(lambda n: f"user{n}@example.com")
    full_name = Faker("name")
    role = Role.STAFF
    password = make_password(PASSWORD)

from datetime import date
from decimal import Decimal

import factory
from django.utils import timezone

from enquiries.models import Contact, SampleRequest
from reports.models import Category, Licence, Region, RegionCountry, Report


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = "Healthcare Services"
    slug = "healthcare-services"


class ReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Report

    number = factory.Sequence(lambda n: 2000000 + n)
    title = factory.Sequence(lambda n: f"Test Widgets Market {n}, 2025–2032")
    market_name = "Test Widgets"
    slug = factory.Sequence(lambda n: f"global-test-widgets-{n}-market")
    category = factory.SubFactory(CategoryFactory)
    status = Report.Status.PUBLISHED
    summary = "A summary of the test widgets market."
    analysis = "Analysis paragraph one.\n\nAnalysis paragraph two."
    cagr_percent = Decimal("10.0")
    forecast_start_year = 2025
    forecast_end_year = 2032
    edition_date = date(2025, 3, 25)
    published_at = factory.Faker("date_time", tzinfo=__import__("datetime").UTC)


class LicenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Licence

    report = factory.SubFactory(ReportFactory)
    kind = Licence.Kind.SINGLE
    description = "One named user."
    max_users = 1
    price = Decimal("3900.00")


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    report = factory.SubFactory(ReportFactory)
    name = "North America"
    share_percent = Decimal("40")


class RegionCountryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegionCountry

    region = factory.SubFactory(RegionFactory)
    country = "US"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"buyer{n}@acme-pharma.example")
    name = "Jane Doe"
    company = "Acme Pharma"


class SampleRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SampleRequest

    contact = factory.SubFactory(ContactFactory)
    report = factory.SubFactory(ReportFactory)
    email = factory.SelfAttribute("contact.email")
    name = factory.SelfAttribute("contact.name")
    company = factory.SelfAttribute("contact.company")
    job_title = "Head of Clinical Operations"
    country = "DE"
    consent_version = "2025-03"
    consent_at = factory.LazyFunction(timezone.now)

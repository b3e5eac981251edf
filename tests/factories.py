from datetime import date
from decimal import Decimal

import factory
from django.utils import timezone

from contacts.models import Contact
from enquiries.models import SampleRequest
from reports.models import (
    Category,
    FrequentQuestion,
    KeyPlayer,
    Licence,
    MarketDynamic,
    Region,
    RegionCountry,
    Report,
    Segment,
    TocEntry,
)


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
    price_eur = Decimal("3600.00")
    price_gbp = Decimal("3100.00")


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


# --- Catalogue parts (report page, quality check) --------------------------------------------
class MarketDynamicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketDynamic

    report = factory.SubFactory(ReportFactory)
    kind = MarketDynamic.Kind.DRIVER
    title = factory.Sequence(lambda n: f"Driver {n}")
    description = "Demand keeps rising."


class KeyPlayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyPlayer

    report = factory.SubFactory(ReportFactory)
    name = factory.Sequence(lambda n: f"Widget Maker {n}")
    profile = "A maker of widgets."


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    report = factory.SubFactory(ReportFactory)
    dimension = Segment.Dimension.TYPE
    name = factory.Sequence(lambda n: f"Segment {n}")
    description = "A segment."


class TocEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TocEntry

    report = factory.SubFactory(ReportFactory)
    title = factory.Sequence(lambda n: f"Chapter {n}")


class FrequentQuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FrequentQuestion

    report = factory.SubFactory(ReportFactory)
    question = factory.Sequence(lambda n: f"Question {n}?")
    answer = "An answer."


# --- Pre-order enquiries (issue 5) --------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "auth.User"
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = "Sam"
    last_name = factory.Sequence(lambda n: f"Seller{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@reliable-research.example")
    is_staff = True
    password = factory.django.Password("pw")


class EnquiryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "enquiries.Enquiry"

    contact = factory.SubFactory(ContactFactory)
    report = factory.SubFactory(ReportFactory)
    type = "pricing"
    question = "What does the multi-user licence cost?"
    consent_version = "2025-03"
    consent_at = factory.LazyFunction(timezone.now)


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

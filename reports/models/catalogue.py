"""The catalogue: a report as structured data (not one HTML blob), so that the web page, the
PDFs and the quality check all read the same facts."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django_countries.fields import CountryField

PERCENT = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class Category(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Report(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        UPCOMING = "upcoming", "Upcoming"
        PUBLISHED = "published", "Published"

    number = models.PositiveIntegerField(unique=True, help_text="The publisher's report number.")
    slug = models.SlugField(max_length=200)
    title = models.CharField(max_length=255)
    market_name = models.CharField(
        max_length=200,
        help_text='The market, e.g. "Clinical Trials Site Management Organizations".',
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="reports")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)

    summary = models.TextField(
        help_text="One paragraph: the page description and the PDF abstract."
    )
    analysis = models.TextField(help_text="Market analysis. Blank lines separate paragraphs.")
    latest_trends = models.TextField(blank=True)
    opportunities = models.TextField(blank=True, help_text="Key opportunities and outlook.")
    competitive_landscape = models.TextField(blank=True)
    segmentation_by_type_intro = models.TextField(blank=True)
    segmentation_by_application_intro = models.TextField(blank=True)
    regional_analysis = models.TextField(blank=True)

    cagr_percent = models.DecimalField(
        "CAGR (%)", max_digits=5, decimal_places=2, validators=PERCENT
    )
    forecast_start_year = models.PositiveSmallIntegerField()
    forecast_end_year = models.PositiveSmallIntegerField()
    base_year_market_size = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Market size in the first forecast year, in millions of the currency below. "
        "Leave blank until research confirms it: forecasts are then shown as an index.",
    )
    market_size_currency = models.CharField(max_length=3, default="USD")

    edition_date = models.DateField(help_text="The date printed on the report's cover.")
    page_count = models.PositiveSmallIntegerField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    seo_description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_at", "title"]
        indexes = [models.Index(fields=["status", "-published_at"])]

    def __str__(self):
        return f"{self.title} ({self.number})"

    def get_absolute_url(self):
        return reverse("reports:detail", kwargs={"slug": self.slug, "number": self.number})

    @property
    def forecast_period(self):
        return f"{self.forecast_start_year}–{self.forecast_end_year}"

    @property
    def is_public(self):
        return self.status in (self.Status.PUBLISHED, self.Status.UPCOMING)


class Ordered(models.Model):
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "pk"]


class MarketDynamic(Ordered):
    class Kind(models.TextChoices):
        DRIVER = "driver", "Driver"
        TREND = "trend", "Trend"
        OPPORTUNITY = "opportunity", "Opportunity"
        CHALLENGE = "challenge", "Challenge"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="dynamics")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField()

    class Meta(Ordered.Meta):
        pass

    def __str__(self):
        return f"{self.get_kind_display()}: {self.title}"


class KeyPlayer(Ordered):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="key_players")
    name = models.CharField(max_length=200)
    profile = models.TextField()
    revenue_note = models.CharField(
        max_length=300, blank=True, help_text="A revenue or growth fact, as reported."
    )
    revenue_musd = models.DecimalField(
        "revenue (USD m)", max_digits=12, decimal_places=1, null=True, blank=True
    )
    growth_percent = models.DecimalField(
        "annual growth (%)", max_digits=5, decimal_places=1, null=True, blank=True
    )

    class Meta(Ordered.Meta):
        constraints = [
            models.UniqueConstraint(fields=["report", "name"], name="uniq_player_per_report")
        ]

    def __str__(self):
        return self.name


class Segment(Ordered):
    class Dimension(models.TextChoices):
        TYPE = "type", "By type"
        APPLICATION = "application", "By application"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="segments")
    dimension = models.CharField(max_length=12, choices=Dimension.choices)
    name = models.CharField(max_length=120)
    description = models.TextField()
    share_percent = models.DecimalField(
        "market share (%)",
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=PERCENT,
        help_text="Share of its dimension in the base year, once research has sized it. "
        "The PDF charts the segment breakdown only from entered shares.",
    )

    class Meta(Ordered.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["report", "dimension", "name"], name="uniq_segment_per_report"
            )
        ]

    def __str__(self):
        return self.name


class Region(Ordered):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="regions")
    name = models.CharField(max_length=80)
    share_percent = models.DecimalField(
        "market share (%)",
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=PERCENT,
    )
    commentary = models.TextField(blank=True)

    class Meta(Ordered.Meta):
        constraints = [
            models.UniqueConstraint(fields=["report", "name"], name="uniq_region_per_report")
        ]

    def __str__(self):
        return self.name


class RegionCountry(Ordered):
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="countries")
    country = CountryField()

    class Meta(Ordered.Meta):
        verbose_name_plural = "region countries"
        constraints = [
            models.UniqueConstraint(fields=["region", "country"], name="uniq_country_per_region")
        ]

    def __str__(self):
        return self.country.name


class TocEntry(Ordered):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="toc_entries")
    level = models.PositiveSmallIntegerField(default=1, choices=[(1, "Chapter"), (2, "Section")])
    title = models.CharField(max_length=200)

    class Meta(Ordered.Meta):
        verbose_name = "table of contents entry"
        verbose_name_plural = "table of contents"

    def __str__(self):
        return self.title


class FrequentQuestion(Ordered):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="faqs")
    question = models.CharField(max_length=255)
    answer = models.TextField()

    class Meta(Ordered.Meta):
        verbose_name = "FAQ"

    def __str__(self):
        return self.question


class Licence(Ordered):
    class Kind(models.TextChoices):
        SINGLE = "single", "Single user"
        MULTI = "multi", "Multi-user"
        ENTERPRISE = "enterprise", "Enterprise"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="licences")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.CharField(max_length=300)
    max_users = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Blank means unlimited users within the organisation."
    )
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    is_active = models.BooleanField(default=True)

    class Meta(Ordered.Meta):
        constraints = [
            models.UniqueConstraint(fields=["report", "kind"], name="uniq_licence_kind_per_report"),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="licence_price_positive"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.currency} {self.price:,.0f}"

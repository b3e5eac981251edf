"""Every licence gets a list price in USD, EUR and GBP; its single `currency` goes.

Existing licences keep the price they had in the currency they had (a licence priced in EUR
keeps that EUR price exactly); the other two are derived at settings.CURRENCY_FALLBACK_RATES
(what one US dollar is worth in EUR and GBP) and rounded to a whole ten, the way a publisher
prints list prices. Staff correct any of them in admin afterwards. A licence in a currency
we don't sell in (none is expected) is read as USD.

The arithmetic is written out here rather than imported, so this migration does the same
thing whatever common/currency.py says later."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import migrations, models

FALLBACK_RATES = {"EUR": Decimal("0.92"), "GBP": Decimal("0.79")}


def _rates() -> dict:
    return {"USD": Decimal(1), **getattr(settings, "CURRENCY_FALLBACK_RATES", FALLBACK_RATES)}


def _ten(value: Decimal) -> Decimal:
    return max(Decimal(10), (value / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP) * 10)


def prices_fill(apps, schema_editor):
    Licence = apps.get_model("reports", "Licence")
    rates = _rates()
    for licence in Licence.objects.all().iterator():
        currency = (licence.currency or "USD").upper()
        if currency not in rates:
            currency = "USD"
        usd = licence.price if currency == "USD" else _ten(licence.price / rates[currency])
        prices = {code: _ten(usd * rate) for code, rate in rates.items()}
        prices["USD"] = usd
        prices[currency] = licence.price  # the price staff set stays exactly as it was
        Licence.objects.filter(pk=licence.pk).update(
            price=prices["USD"], price_eur=prices["EUR"], price_gbp=prices["GBP"]
        )


def currency_restore(apps, schema_editor):
    """Going back, every licence is priced in USD (its `price` column)."""
    apps.get_model("reports", "Licence").objects.update(currency="USD")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0013_related_reports"),
    ]

    operations = [
        migrations.AddField(
            model_name="licence",
            name="price_eur",
            field=models.DecimalField(
                decimal_places=2, max_digits=10, null=True, verbose_name="price (EUR)"
            ),
        ),
        migrations.AddField(
            model_name="licence",
            name="price_gbp",
            field=models.DecimalField(
                decimal_places=2, max_digits=10, null=True, verbose_name="price (GBP)"
            ),
        ),
        migrations.RunPython(prices_fill, currency_restore),
        migrations.AlterField(
            model_name="licence",
            name="price_eur",
            field=models.DecimalField(decimal_places=2, max_digits=10, verbose_name="price (EUR)"),
        ),
        migrations.AlterField(
            model_name="licence",
            name="price_gbp",
            field=models.DecimalField(decimal_places=2, max_digits=10, verbose_name="price (GBP)"),
        ),
        migrations.AlterField(
            model_name="licence",
            name="price",
            field=models.DecimalField(decimal_places=2, max_digits=10, verbose_name="price (USD)"),
        ),
        migrations.RemoveField(
            model_name="licence",
            name="currency",
        ),
        migrations.AddConstraint(
            model_name="licence",
            constraint=models.CheckConstraint(
                condition=models.Q(price_eur__gt=0), name="licence_price_eur_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="licence",
            constraint=models.CheckConstraint(
                condition=models.Q(price_gbp__gt=0), name="licence_price_gbp_positive"
            ),
        ),
    ]

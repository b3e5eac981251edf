"""Version 1 of each page, published, so the site has terms a buyer can read (and an order
can record) from its first run. Staff replace them in admin with version 2 and on."""

from django.db import migrations
from django.utils import timezone

PAGES = {
    "terms": (
        "Terms of sale",
        "These terms apply to every report bought on this website from the company named on "
        "our contact page (\"we\"). By placing an order you accept them in the version shown "
        "at checkout; your receipt links to that version.\n\n"
        "What you buy. A licence to use one report, in the edition on sale at the time of your "
        "order, delivered as a PDF personalised to the licensee. The licence you choose sets "
        "who may use it: a single-user licence for one named person, a multi-user licence for "
        "up to the stated number of users at one site, an enterprise licence for everyone in "
        "the licensee's organisation. The report's licence terms, printed in the report, form "
        "part of these terms.\n\n"
        "Price and payment. Prices are shown before you pay, in the currency shown, and are "
        "charged in full when you order. Payment is processed by Stripe; we never see your card "
        "details. Where VAT applies it is shown at checkout; business buyers in the EU may give "
        "a VAT ID for the reverse charge.\n\n"
        "Delivery. We email a download link as soon as the payment is confirmed, usually within "
        "minutes. The link works a limited number of times for a limited period; a fresh link "
        "is sent on request to the buyer's address.\n\n"
        "Use. You may quote short extracts with acknowledgement of the source. You may not "
        "resell, publish or share the report beyond your licence.\n\n"
        "Liability. Our research is prepared with care from sources we believe reliable, but "
        "forecasts are estimates; we are not liable for decisions taken on them. Nothing in "
        "these terms limits liability that cannot be limited by law.\n\n"
        "Refunds are described in our refund policy. These terms are governed by the law of "
        "the country of our registered office.",
    ),
    "refunds": (
        "Refund policy",
        "A report is digital content delivered at once, so orders are not refundable once "
        "the report has been downloaded, except as below.\n\n"
        "We refund in full when: the report you received is materially different from its "
        "description or table of contents; the download did not work and we could not fix "
        "it within five business days; or you were charged twice for the same order.\n\n"
        "To ask for a refund, reply to your receipt or write to us within 30 days of your "
        "order, quoting the order reference. Refunds go back to the card or account you paid "
        "with, usually within 5 to 10 business days.",
    ),
    "contact": (
        "Contact us",
        "Questions about a report, a licence or a price go to our sales team: use the "
        "\"Ask a question\" form on the report's page, or reply to any email we sent you. We "
        "answer within one business day.\n\n"
        "For an order, quote its reference (it starts with R-).",
    ),
    "about": (
        "About us",
        "We publish syndicated market research for healthcare and life-science markets: "
        "market sizes, forecasts, segmentation and competitive landscapes, written by "
        "analysts and checked against primary interviews and public sources.\n\n"
        "Every report states its methodology and assumptions, and a free sample of each is "
        "available before you buy.",
    ),
}


def seed(apps, schema_editor):
    PageVersion = apps.get_model("pages", "PageVersion")
    now = timezone.now()
    for page, (title, body) in PAGES.items():
        if not PageVersion.objects.filter(page=page).exists():
            PageVersion.objects.create(
                page=page, number=1, title=title, body=body, published_at=now
            )


class Migration(migrations.Migration):
    dependencies = [("pages", "0001_pages")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

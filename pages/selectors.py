from .models import PageVersion


def page_current(*, page: str) -> PageVersion | None:
    """The page's latest published version (None before any is published)."""
    return (
        PageVersion.objects.filter(page=page, published_at__isnull=False)
        .order_by("-published_at", "-number")
        .first()
    )


def page_version(*, page: str, number: int) -> PageVersion | None:
    return PageVersion.objects.filter(page=page, number=number, published_at__isnull=False).first()

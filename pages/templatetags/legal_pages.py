from django import template

from ..models import PageVersion
from ..selectors import page_current

register = template.Library()


@register.simple_tag
def terms_current() -> PageVersion | None:
    """The terms of sale a buyer accepts right now (the purchase page links to them)."""
    return page_current(page=PageVersion.Page.TERMS)

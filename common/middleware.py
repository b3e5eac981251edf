"""Request hygiene for every page: control characters never reach a view."""

from django.http import Http404

from .text import CONTROL_CHARS, control_characters_strip


class ControlCharactersMiddleware:
    """A NUL byte in a query parameter used to reach PostgreSQL (which refuses it: a 500) or
    the session (breaking that visitor's later posts). No URL of the site has a control
    character, so such a path is a 404; query parameters keep their text without them.
    Form posts are left to the forms, which answer with an error next to the field."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if CONTROL_CHARS.search(request.path_info):
            raise Http404("No such page")
        if _has_control(request.GET):
            request.GET = _query_cleaned(request.GET)
        return self.get_response(request)


def _has_control(query) -> bool:
    return any(
        CONTROL_CHARS.search(key) or any(CONTROL_CHARS.search(v) for v in values)
        for key, values in query.lists()
    )


def _query_cleaned(query):
    cleaned = query.copy()
    cleaned.clear()
    for key, values in query.lists():
        cleaned.setlist(
            control_characters_strip(key), [control_characters_strip(v) for v in values]
        )
    cleaned._mutable = False
    return cleaned

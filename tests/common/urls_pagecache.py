"""Shareable views for the page cache's tests: one puts a CSRF token in its page, one the
request's Content-Security-Policy nonce, one echoes the query parameters it was given."""

from django.http import HttpResponse
from django.middleware.csp import get_nonce
from django.middleware.csrf import get_token
from django.urls import path

from common.pagecache import page_cache_public

calls: list[str] = []


@page_cache_public
def token_page(request):
    calls.append("token")
    return HttpResponse(f'<input name="csrfmiddlewaretoken" value="{get_token(request)}">')


@page_cache_public
def plain_page(request):
    calls.append("plain")
    return HttpResponse("the same for everyone")


@page_cache_public
def nonce_page(request):
    calls.append("nonce")
    return HttpResponse(f'<script nonce="{get_nonce(request)}">1</script>')


@page_cache_public(params=("colour", "size"))
def echo_page(request):
    calls.append("echo")
    return HttpResponse(repr(sorted(request.GET.lists())))


urlpatterns = [
    path("echo-page", echo_page),
    path("token-page", token_page),
    path("plain-page", plain_page),
    path("nonce-page", nonce_page),
]

from django.contrib import admin  # noqa: F401 - other lead models register here

# The sales inbox (enquiries, reply templates, contacts) lives in its own module.
from . import admin_inbox  # noqa: F401

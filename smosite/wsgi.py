"""The WSGI application gunicorn serves (and runserver, for `make run`). Served by gunicorn,
it refuses the local settings: smosite/startup.py."""

from django.core.wsgi import get_wsgi_application

from smosite.startup import settings_module

settings_module()

application = get_wsgi_application()

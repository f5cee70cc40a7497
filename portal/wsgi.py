"""WSGI entry point for `gunicorn -k gevent portal.wsgi:app`.

gevent patches the standard library first, before anything imports sockets or threads.
"""

from gevent import monkey

monkey.patch_all()

from portal import create_app  # noqa: E402

app = create_app()

"""A hello-world WSGI application (13-byte body): the cost of a server, not of an application."""

BODY = b"Hello, world\n"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]


application = app  # the name uWSGI looks for by default

"""The WSGI side: the Nagare application object, the dispatcher of several applications, static files."""

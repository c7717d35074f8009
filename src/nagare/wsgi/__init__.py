"""The WSGI side: the Nagare application object, the dispatcher of several applications, static files.

`wsgi.WSGIApp` is the class Nagare 0.5 applications subclass (`app = App(RootFactory)`), and
`wsgi.create_WSGIApp(root_factory)` makes one of a root factory.
"""

from nagare.wsgi.app import WSGIApp, create_WSGIApp

__all__ = ["WSGIApp", "create_WSGIApp"]

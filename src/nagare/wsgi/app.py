"""The Nagare application: request -> session lock -> callbacks -> render -> save -> response.

SPEC "URLs and wire protocol" is implemented here: `_s`/`_c` ids, `_action…` callbacks, `_a`
for XHR, the `_nagare` secure-id cookie, 301/307/303 redirections and RESTful URL segments.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from webob import Request, Response
from webob.exc import HTTPException, HTTPMovedPermanently, HTTPSeeOther, HTTPTemporaryRedirect

from nagare import ajax, presentation
from nagare.callbacks import Callbacks
from nagare.component import Component
from nagare.errors import ExpirationError, LockError, SessionSecurityError, StateError, StoreUnavailableError
from nagare.namespaces import xhtml5
from nagare.sessions.base import PageState, Session, Sessions

StartResponse = Callable[..., Any]


class WSGIApp:
    """A Nagare application: a root component factory served with sessions."""

    def __init__(
        self,
        root_factory: Callable[[], Any],
        *,
        name: str,
        sessions: Sessions[Any],
        static_url: str | None = None,
        always_html: bool = True,
        redirect_after_post: bool = False,
        renderer_factory: Callable[..., Any] = xhtml5.Renderer,
        logger: logging.Logger | None = None,
        debug: bool = False,
    ) -> None:
        self.root_factory = root_factory
        self.name = name
        self.sessions = sessions
        self.static_url = static_url if static_url is not None else f"/static/{name}/"
        self.always_html = always_html
        self.redirect_after_post = redirect_after_post
        self.renderer_factory = renderer_factory
        self.log = logger or logging.getLogger(f"nagare.application.{name}")
        #: an exception goes on to the server (the debugger's page) instead of a 500 page
        self.debug = debug

    def create_root(self) -> Component:
        root = self.root_factory()
        return root if isinstance(root, Component) else Component(root)

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ, charset="utf-8")
        response: Response | HTTPException
        try:
            response = self.handle(request)
        except HTTPException as exc:
            response = exc
        except Exception as exc:
            if self.debug:  # the debugger around the application shows and prints the traceback
                self.log.error("error while serving %s %s: %s: %s", request.method, request.url, type(exc).__name__, exc)
                raise
            self.log.exception("error while serving %s %s", request.method, request.url)
            response = error_page(500, "Internal Server Error", "The server could not answer this request.")
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        try:
            # Decoded once here (WebOb caches them): a malformed URL or body is the client's error.
            path_info = request.path_info
            params = request.params
        except (UnicodeDecodeError, ValueError) as exc:
            raw = request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", "")
            self.log.warning("bad request %s %r: %s", request.method, raw, exc)
            return error_page(400, "Bad Request", "The request could not be read.")
        if not path_info:
            location = request.script_name + "/" + ("?" + request.query_string if request.query_string else "")
            raise HTTPMovedPermanently(location=location)
        session_id, state_id = params.get("_s"), params.get("_c")
        is_xhr = "_a" in params
        try:
            if session_id is None or state_id is None:
                with self.sessions.create() as session:
                    return self.start(request, session, is_xhr)
            if not isinstance(session_id, str) or not isinstance(state_id, str):  # a file sent as _s or _c
                raise ExpirationError("malformed session or state id")
            secure_id = request.cookies.get(self.sessions.security_cookie_name)
            with self.sessions.open(session_id, state_id, secure_id) as session:
                return self.process(request, session, is_xhr)
        except ExpirationError:
            return self.restart(request, is_xhr)
        except StateError as exc:
            self.log.warning("state refused for %s %s: %s", request.method, request.path_url, exc)
            return self.restart(request, is_xhr)
        except SessionSecurityError:
            self.log.warning("secure id mismatch for session %s from %s", session_id, request.remote_addr)
            if is_xhr:
                return error_page(503, "Service Unavailable", "Session not available.")
            return HTTPTemporaryRedirect(location=request.path_url)
        except (LockError, StoreUnavailableError) as exc:
            self.log.error("%s %s: %s", request.method, request.path_url, exc)
            busy = isinstance(exc, LockError)
            message = "The session is busy; try again." if busy else "The sessions are unavailable; try again in a moment."
            response = error_page(503, "Service Unavailable", message)
            response.headers["Retry-After"] = "1"
            return response

    def restart(self, request: Request, is_xhr: bool) -> Response:
        """Expired or unknown session or state: back to the same path, a fresh session."""
        if is_xhr:
            return json_response({"updates": [], "reload": request.path_url})
        return HTTPMovedPermanently(location=request.path_url)

    # -- a new session -----------------------------------------------------------------------

    def start(self, request: Request, session: Session[Any], is_xhr: bool) -> Response:
        page = PageState(self.create_root(), Callbacks())
        url = [segment for segment in request.path_info.split("/") if segment]
        if url:
            try:
                page.root.init(url, request.method, request)
            except presentation.NotFound:
                session.delete()  # nothing to keep: no page was shown
                return error_page(404, "Not Found", "The page you asked for does not exist.")
        if is_xhr:  # an update for a page whose session is gone: the page reloads
            session.delete()
            return json_response({"updates": [], "reload": request.path_url})
        response = Response(charset="utf-8")
        self.set_cookie(request, response, session.secure_id)
        return self.render_page(request, response, session, page, session.next_state_id)

    def set_cookie(self, request: Request, response: Response, secure_id: str) -> None:
        response.set_cookie(
            self.sessions.security_cookie_name,
            secure_id,
            path=(request.script_name or "") + "/",
            httponly=self.sessions.security_cookie_httponly,
            secure=self.sessions.security_cookie_secure,
            samesite="Lax",
        )

    # -- an existing session -----------------------------------------------------------------

    def process(self, request: Request, session: Session[Any], is_xhr: bool) -> Response:
        page, state_id = session.state, session.state_id
        assert page is not None and state_id is not None  # what `Sessions.open` yields
        response = Response(charset="utf-8")
        actions = Callbacks.parse(request.params.items())
        results = page.callbacks.run(actions, request, response)

        for result in results:
            if isinstance(result, Response):  # an action that answers by itself (an image, a file)
                session.store(page, state_id)  # no page rendered: its links are the state's own
                return result

        if is_xhr:
            return self.render_updates(request, session, page, state_id, results)

        if actions and self.redirect_after_post and request.method == "POST":
            session.store(page, session.next_state_id)
            raise HTTPSeeOther(location=self.state_url(request, session.session_id, session.next_state_id))

        # A new state even without actions (a reload, the back button): rendering registers new
        # action ids, and the pages already shown from this state (another tab, the browser's
        # cache) must keep working with theirs.
        return self.render_page(request, response, session, page, session.next_state_id)

    def state_url(self, request: Request, session_id: str, state_id: int) -> str:
        return f"{request.path_url}?_s={session_id}&_c={state_id:05d}"

    def new_renderer(self, request: Request, response: Response, callbacks: Callbacks, session_id: str, state_id: int) -> Any:
        return self.renderer_factory(
            callbacks=callbacks,
            session_params={"_s": session_id, "_c": f"{state_id:05d}"},
            static_url=self.static_url,
            url=request.script_name + "/",
            request=request,
            response=response,
        )

    def render_page(self, request: Request, response: Response, session: Session[Any], page: PageState, state_id: int) -> Response:
        """Render the whole page with fresh action ids, store it as the state `state_id`."""
        page.callbacks.clear()
        h = self.new_renderer(request, response, page.callbacks, session.session_id, state_id)
        output = page.root.render(h)
        body = h.page(output, self.always_html)
        session.store(page, state_id)
        response.content_type = h.content_type.split(";")[0]
        response.body = body
        response.cache_control = "no-cache"
        return response

    def render_updates(self, request: Request, session: Session[Any], page: PageState, state_id: int, results: list[Any]) -> Response:
        """An XHR request: render the parts its actions asked for, keep the state in place."""
        response = Response(charset="utf-8")
        h = self.new_renderer(request, response, page.callbacks, session.session_id, state_id)
        updates, reload = [], None
        for rendering in results:
            if not isinstance(rendering, ajax.Rendering):
                continue
            if callable(rendering.render):
                renderer = h.AsyncRenderer()
                if rendering.component is not None:
                    # its links and buttons update the same component again
                    renderer.start_rendering(rendering.component, rendering.component.model)
                output = rendering.render(renderer)
                updates.append({"id": rendering.dom_id, "mode": "inner", "html": h.fragment(output)})
            elif rendering.component is None:
                reload = self.state_url(request, session.session_id, state_id)
            else:
                output = rendering.component.render(h.AsyncRenderer(), rendering.render)
                updates.append({"id": rendering.dom_id, "mode": "outer", "html": h.fragment(output)})
        session.store(page, state_id)  # the page shown keeps its state id: its links stay valid
        return json_response({"updates": updates, "head": h.head_assets(), "reload": reload}, response)


def json_response(data: dict[str, Any], response: Response | None = None) -> Response:
    response = response or Response(charset="utf-8")
    response.content_type = "application/json"
    response.body = json.dumps(data).encode()
    response.cache_control = "no-cache"
    return response


def error_page(status: int, title: str, text: str) -> Response:
    from html import escape

    body = f"<!DOCTYPE html>\n<html><head><title>{status} {escape(title)}</title></head><body><h1>{escape(title)}</h1><p>{escape(text)}</p></body></html>\n"
    return Response(body=body.encode(), status=status, content_type="text/html", charset="utf-8")

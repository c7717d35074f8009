"""The Nagare application: request -> session lock -> callbacks -> render -> save -> response.

SPEC "URLs and wire protocol" is implemented here: `_s`/`_c` ids, `_action…` callbacks, `_a`
for XHR, the `_nagare` secure-id cookie, 301/307/303 redirections and RESTful URL segments.

`WSGIApp` is also the class Nagare 0.5 applications subclass: `WSGIApp(root_factory)`, then,
once per process that loads it (the loader, `nagare.wsgi.loader`): `set_config(filename, conf,
error)`, `set_static_path`, `set_static_url`, `set_data_path`, `set_publisher`,
`set_sessions_manager`, `set_databases`, `set_project` and `start()`. Per request:
`create_root()` for a new session, `start_request(root, request, response)`, `create_renderer(...)`,
and the `on_…` hooks for what goes wrong. A hook answers with the response it returns, or with the
WebOb HTTP exception it raises; None means the `response` it was given (which it may have changed).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from contextvars import ContextVar
from typing import Any, NoReturn

from webob import Request, Response
from webob.exc import (
    HTTPException,
    HTTPMethodNotAllowed,
    HTTPMovedPermanently,
    HTTPSeeOther,
    HTTPTemporaryRedirect,
)

from nagare import ajax, i18n, log, presentation
from nagare.config import reference
from nagare import security as nagare_security
from nagare.security.common import Logout
from nagare.callbacks import Callbacks, ParsedAction
from nagare.component import Component, log_flow_broken
from nagare.flow.engine import Continuation, FlowBroken
from nagare.errors import ExpirationError, NagareError, LockError, SessionSecurityError, StateError, StoreUnavailableError
from nagare.namespaces import xhtml5
from nagare.sessions.base import PageState, Session, Sessions

StartResponse = Callable[..., Any]

#: the methods a Nagare application answers; any other goes to `on_bad_http_method` (405)
HTTP_METHODS = ("GET", "HEAD", "POST")

#: the application serving the current request (None outside a request)
current_app: ContextVar[WSGIApp | None] = ContextVar("nagare_wsgi_current_app", default=None)

#: The name of the session's locale among its shared objects.
_LOCALE = "nagare.locale"


class _LocaleHolder:
    """The locale a session keeps once the application chose one (shared by all its states)."""

    def __init__(self) -> None:
        self.locale: i18n.Locale = i18n.DEFAULT_LOCALE


# (the session, the locale the request started with), during a request
_request_locale: ContextVar[tuple[Session[Any], i18n.Locale] | None] = ContextVar("nagare_request_locale", default=None)
class WSGIApp:
    """A Nagare application: a root component factory served with sessions.

    `WSGIApp(root_factory)` is Nagare 0.5's signature; the loader then configures the instance
    through the `set_…` methods and calls `start()`. The keywords configure it directly (tests,
    an application served without the loader).
    """

    #: makes the renderer of each page (a class attribute a subclass may replace)
    renderer_factory: Callable[..., Any] = xhtml5.Renderer
    request_factory: Callable[..., Request] = Request
    response_factory: Callable[..., Response] = Response
    #: the security manager (`nagare.security`): authenticates each request, checks the actions'
    #: permissions; the default lets only `public` pass
    security: nagare_security.Manager = nagare_security.DEFAULT_MANAGER

    def __init__(
        self,
        root_factory: Callable[[], Any],
        *,
        name: str | None = None,
        sessions: Sessions[Any] | None = None,
        static_url: str | None = None,
        always_html: bool = True,
        redirect_after_post: bool = False,
        renderer_factory: Callable[..., Any] | None = None,
        logger: logging.Logger | None = None,
        debug: bool = False,
    ) -> None:
        self.root_factory = root_factory
        self.name = name
        self.sessions = sessions
        self.static_url = static_url if static_url is not None else f"/static/{name}/" if name else ""
        self.static_path = ""
        self.data_path = ""
        self.publisher: Any = None
        self.databases: Sequence[Any] = ()
        self.default_locale: i18n.Locale = i18n.DEFAULT_LOCALE
        #: The exceptions that mean a database cannot be reached: answered 503 (none without databases).
        self.database_errors: tuple[type[Exception], ...] = ()
        #: `nagare.database` once `set_databases` bound one (None: the application has none).
        self.database: Any = None
        self.project_name: str | None = None
        self.config_filename: str | None = None
        self.always_html = always_html
        self.redirect_after_post = redirect_after_post
        if renderer_factory is not None:  # else the class attribute: a subclass may set its own
            self.renderer_factory = renderer_factory
        self.log = logger or logging.getLogger(f"nagare.application.{name}" if name else "nagare.application")
        #: an exception goes on to the server (the debugger's page) instead of a 500 page
        self.debug = debug

    # -- per process: the configuration (called by the loader, in this order) ----------------

    def set_config(self, config_filename: str | None, conf: Any, error: Callable[[str], NoReturn]) -> None:
        """Read the application file: `conf` is the whole file as a ConfigObj (custom sections
        too, `[application]` with its checked values); `error(message)` stops the start with a
        one-line error naming the file."""
        self.config_filename = config_filename
        application = conf.get("application", {})
        self.name = application.get("name", self.name)
        for key in ("debug", "redirect_after_post", "always_html"):
            setattr(self, key, application.get(key, getattr(self, key)))
        self.log = logging.getLogger(f"nagare.application.{self.name}")

    def set_static_path(self, static_path: str) -> None:
        """The folder of the application's static files."""
        self.static_path = static_path

    def set_static_url(self, static_url: str) -> None:
        """The URL its static files are served at (`/static/<name>/`)."""
        self.static_url = static_url

    def set_data_path(self, data_path: str) -> None:
        """The folder of its data files (`$root/data`)."""
        self.data_path = data_path

    def set_publisher(self, publisher: Any) -> None:
        """The publisher that serves it (None outside a server: `nagare-admin shell`)."""
        self.publisher = publisher

    def set_sessions_manager(self, sessions_manager: Sessions[Any]) -> None:
        """Its sessions manager (the publisher's `[sessions]` with its own keys)."""
        self.sessions = sessions_manager

    def set_databases(self, databases: Sequence[Any]) -> None:
        """The activated `[database]` sections: each metadata bound to its engine (`nagare.database`).

        From then on every request runs in a transaction, and a database that cannot be reached
        answers 503.
        """
        self.databases = databases
        if not databases:
            return
        from nagare import database

        for settings in databases:
            if not settings.metadata:
                raise ValueError("[database] metadata is required (an object reference: 'package.models:metadata')")
            try:
                metadata = reference.load(settings.metadata)
            except NagareError as exc:
                raise ValueError(f"[database] metadata: {exc}") from None
            database.set_metadata(metadata, settings.uri, settings.debug, settings.engine_settings())
        self.database_errors = database.UNAVAILABLE
        self.database = database

    def set_project(self, project_name: str | None) -> None:
        """The distribution that provides the application (None: a file, a module of no distribution)."""
        self.project_name = project_name

    def start(self) -> None:
        """Called once configured, before serving (in the FastCGI master, before the workers fork)."""

    # -- per request ------------------------------------------------------------------------

    def create_root(self) -> Component:
        """The root component of a new session: what `root_factory()` returns, in a Component."""
        root = self.root_factory()
        return root if isinstance(root, Component) else Component(root)

    def set_default_locale(self, locale: i18n.Locale) -> None:
        """The locale of the requests when `create_locale` is not overridden (0.5.1's name)."""
        self.default_locale = locale

    def create_locale(self, request: Request) -> i18n.Locale:
        """The locale of a session's first request (and of every request until the application
        sets another with `i18n.set_locale`, which the session then keeps). Override it to
        negotiate: `return i18n.NegotiatedLocale(request, [('fr', 'FR'), ('en', None)], ...)`."""
        return self.default_locale

    def _locale(self, session: Session[Any], request: Request) -> None:
        # The session's locale, once a request chose one (kept with the session's shared objects:
        # every state, the older ones too, sees it), else the application's for this request.
        holder = session.shared_object(_LOCALE)
        locale = holder.locale if isinstance(holder, _LocaleHolder) else self.create_locale(request)
        i18n.set_locale(locale)
        _request_locale.set((session, locale))

    def start_request(self, root: Component, request: Request, response: Response) -> None:
        """Called per request once the root is built or loaded, before `init` and the actions."""

    def create_renderer(self, async_: bool, session: Session[Any], request: Request, response: Response, callbacks: Callbacks) -> Any:
        """The renderer of a page (`async_` False: its links carry the id of the state stored
        next) or of an XHR update (True: the loaded state's id, as the update stores in place)."""
        state_id = session.state_id if async_ and session.state_id is not None else session.next_state_id
        return self.renderer_factory(
            session=session,
            request=request,
            response=response,
            static_url=self.static_url,
            static_path=self.static_path,
            url=request.script_name + "/",
            callbacks=callbacks,
            session_params={"_s": session.session_id, "_c": f"{state_id:05d}"},
        )

    def request_scope(self, request: Request, response: Response) -> AbstractContextManager[None]:
        """Around everything done for one request: this application's logger is `nagare.log`'s
        current one, this application is `current_app`, and the security manager has
        authenticated the request (`nagare.security.get_user()`)."""
        return _RequestScope(self, request, response)

    def check_permissions(self, permissions: Any, subject: Any) -> None:
        """Before an action registered with `permissions`: the security manager refuses (403, or
        401 with basic and digest authentication) when the current user lacks them, logged."""
        nagare_security.check_permissions(permissions, subject)

    # -- the hooks: what goes wrong, and a few decisions -------------------------------------

    def on_exception(self, request: Request, response: Response) -> Response | None:
        """An exception in an action, a view or a hook (called in its `except`): a 500 page, logged
        with its traceback; in debug mode the exception goes on to the debugger."""
        if self.debug:  # the debugger around the application shows and prints the traceback
            exc = sys.exc_info()[1]
            self.log.error("error while serving %s %s: %s: %s", request.method, request.url, type(exc).__name__, exc)
            raise  # the exception the caller is handling
        self.log.exception("error while serving %s %s", request.method, request.url)
        return error_page(500, "Internal Server Error", "The server could not answer this request.")

    def on_expired_session(self, request: Request, response: Response) -> Response | None:
        """Unknown or expired session or state: back to the same path, in a fresh session (301;
        an XHR request is told to reload the page)."""
        if _is_xhr(request):
            return json_response({"updates": [], "reload": request.path_url})
        return HTTPMovedPermanently(location=request.path_url)

    def on_invalid_session(self, request: Request, response: Response) -> Response | None:
        """The browser's secure-id cookie does not match the session's: 307 to the same path (503
        for XHR), the session left alone."""
        if _is_xhr(request):
            return error_page(503, "Service Unavailable", "Session not available.")
        return HTTPTemporaryRedirect(location=request.path_url)

    def on_callback_lookuperror(self, request: Request, response: Response, async_: bool) -> Response | None:
        """Action ids of the request unknown to the state (an older page of it): skipped."""
        return None

    def on_after_post(self, request: Request, response: Response, ids: list[str]) -> Response | None:
        """A POST ran actions; `ids`: the query of the state about to be stored (`_s=…`, `_c=…`).
        With `redirect_after_post`, 303 to it; None: the page is rendered in answer."""
        if self.redirect_after_post:
            return HTTPSeeOther(location=f"{request.path_url}?{'&'.join(ids)}")
        return None

    def on_back(self, request: Request, response: Response, h: Any, output: Any) -> Any:
        """The page of a state that is not the session's last (the back button, another tab):
        the tree rendered, to show as it is or changed."""
        return output

    def on_flow_broken(self, comp: Component, continuation: Continuation, error: FlowBroken) -> object:
        """A suspended `comp.call()` cannot resume: a deploy changed the logic of a function of its
        flow (`CodeChanged`). `comp` shows again what it showed before the call (a Task starts its
        `go` again); by default a warning is logged. Never a resume at the wrong place."""
        log_flow_broken(continuation, error)
        return None

    def on_bad_http_method(self, request: Request, response: Response) -> Response | None:
        """A method other than GET, HEAD and POST: 405."""
        return HTTPMethodNotAllowed(headers={"Allow": ", ".join(HTTP_METHODS)})

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = self.request_factory(environ, charset="utf-8")
        response = self.response_factory(charset="utf-8")
        answer: Response | HTTPException | None = self.unreadable(request)
        if answer is not None:  # before anything reads it: the authentication does
            return answer(environ, start_response)
        inside = False
        try:
            with self.request_scope(request, response):
                inside = True
                answer = self._answer(request, response)
        except HTTPException as exc:  # from the scope itself: an authentication that refuses
            answer = exc
        except Exception:
            if inside:  # `on_exception` let it go on (debug mode): to the debugger
                raise
            answer = _or(self.on_exception(request, response), response)
        try:
            return answer(environ, start_response)
        finally:
            # WebOb keeps the parsed query in the environ, and it refers to the environ: a cycle
            # that would leave the request to the cyclic garbage collector. Parsed again if needed.
            environ.pop("webob._parsed_query_vars", None)

    def _answer(self, request: Request, response: Response) -> Response | HTTPException:
        try:
            return self.handle(request, response)
        except HTTPException as exc:  # raised by init_for, an action, a view or a hook: the answer
            return exc
        except Exception:
            try:
                return _or(self.on_exception(request, response), response)
            except HTTPException as exc:
                return exc

    def unreadable(self, request: Request) -> Response | None:
        """A 400 page when the URL or the body cannot be decoded (the client's error), else None."""
        try:
            # Decoded once here (WebOb caches them), before the security manager reads them.
            _decoded = (request.path_info, request.params)
        except (UnicodeDecodeError, ValueError) as exc:
            raw = request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", "")
            self.log.warning("bad request %s %r: %s", request.method, raw, exc)
            return error_page(400, "Bad Request", "The request could not be read.")
        return None

    def handle(self, request: Request, response: Response) -> Response:
        """One request: the session, the actions and the page (raises the WebOb HTTP exceptions)."""
        path_info, params = request.path_info, request.params
        if request.method not in HTTP_METHODS:
            return _or(self.on_bad_http_method(request, response), response)
        if not path_info:
            location = request.script_name + "/" + ("?" + request.query_string if request.query_string else "")
            raise HTTPMovedPermanently(location=location)
        sessions = self.sessions
        if sessions is None:
            raise RuntimeError(f"application {self.name!r} has no sessions manager: set_sessions_manager() was not called")
        session_id, state_id = params.get("_s"), params.get("_c")
        is_xhr = "_a" in params
        try:
            if session_id is None or state_id is None:
                with sessions.create() as session:
                    return self._in_session(self.new_session, request, response, session, is_xhr)
            if not isinstance(session_id, str) or not isinstance(state_id, str):  # a file sent as _s or _c
                raise ExpirationError("malformed session or state id")
            secure_id = request.cookies.get(sessions.security_cookie_name)
            with sessions.open(session_id, state_id, secure_id) as session:
                return self._in_session(self.existing_session, request, response, session, is_xhr)
        except ExpirationError:
            return _or(self.on_expired_session(request, response), response)
        except StateError as exc:
            self.log.warning("state refused for %s %s: %s", request.method, request.path_url, exc)
            return _or(self.on_expired_session(request, response), response)
        except SessionSecurityError:
            self.log.warning("secure id mismatch for session %s from %s", session_id, request.remote_addr)
            return _or(self.on_invalid_session(request, response), response)
        except self.database_errors as exc:
            self.log.error("%s %s: the database is unavailable: %s", request.method, request.path_url, _first_line(exc))
            unavailable = error_page(503, "Service Unavailable", "The database is unavailable; try again in a moment.")
            unavailable.headers["Retry-After"] = "1"
            return unavailable
        except (LockError, StoreUnavailableError) as exc:
            busy = isinstance(exc, LockError)  # a user's requests piling up: a warning
            self.log.log(logging.WARNING if busy else logging.ERROR, "%s %s: %s", request.method, request.path_url, exc)
            message = "The session is busy; try again." if busy else "The sessions are unavailable; try again in a moment."
            unavailable = error_page(503, "Service Unavailable", message)
            unavailable.headers["Retry-After"] = "1"
            return unavailable

    def _in_session(
        self,
        step: Callable[[Request, Response, Session[Any], bool], Response],
        request: Request,
        response: Response,
        session: Session[Any],
        is_xhr: bool,
    ) -> Response:
        """`step`, then `security.end_rendering()` with its answer (a WebOb HTTP exception too:
        a 403 carries the authentication's cookie), after the store, the session still locked.

        With databases, one transaction a request: committed before the state is stored (the
        state never refers to rows that are not written), rolled back on an error or an error
        answer."""
        session.before_store = self._before_store
        context = nagare_security.current()
        with self.database.transaction() if self.database is not None else nullcontext(None) as end:
            try:
                answer = step(request, response, session, is_xhr)
            except HTTPException as exc:
                context.finish(exc, session)
                raise
            context.finish(answer, session)
            if end is not None:
                end(answer.status_int < 400)
        return answer

    def _before_store(self) -> None:
        """Before a state is stored: a locale the request chose is kept by the session; the
        database work is committed."""
        chosen = _request_locale.get()
        if chosen is not None and i18n.get_locale() is not chosen[1]:
            session = chosen[0]
            holder = session.shared_object(_LOCALE)
            if not isinstance(holder, _LocaleHolder):
                holder = _LocaleHolder()
                session.share(_LOCALE, holder)
            holder.locale = i18n.get_locale()
        if self.database is not None:
            self.database.commit()

    # -- a new session -----------------------------------------------------------------------

    def new_session(self, request: Request, response: Response, session: Session[Any], is_xhr: bool) -> Response:
        """No `_s`/`_c`: a new root, initialised from the URL segments, rendered as the first state.

        Nothing is stored when it fails: an exception (a WebOb HTTP one too) leaves no session.
        """
        page = PageState(self.create_root(), Callbacks())
        self._locale(session, request)
        self.start_request(page.root, request, response)
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
        self.set_cookie(request, response, session.secure_id)
        return self.render_page(request, response, session, page)

    def set_cookie(self, request: Request, response: Response, secure_id: str) -> None:
        assert self.sessions is not None
        response.set_cookie(
            self.sessions.security_cookie_name,
            secure_id,
            path=(request.script_name or "") + "/",
            httponly=self.sessions.security_cookie_httponly,
            secure=self.sessions.security_cookie_secure,
            samesite="Lax",
        )

    # -- an existing session -----------------------------------------------------------------

    def existing_session(self, request: Request, response: Response, session: Session[Any], is_xhr: bool) -> Response:
        """`_s`/`_c` named a state: its actions run, then its page (or XHR updates) is rendered.

        A WebOb HTTP exception raised before the rendering (by `start_request` or an action) is
        the answer; a redirection or a success keeps what the actions changed (the state is
        stored in place, as for an action answering with its own response), an error does not.
        """
        page, state_id = session.state, session.state_id
        assert page is not None and state_id is not None  # what `Sessions.open` yields
        actions = Callbacks.parse(request.params.items())
        try:
            self._locale(session, request)
            self.start_request(page.root, request, response)
            if _unknown(page.callbacks, actions):
                reply = self.on_callback_lookuperror(request, response, is_xhr)
                if reply is not None:
                    return reply
            results = page.callbacks.run(actions, request, response, self.check_permissions)
            if self.database is not None:  # what the actions added gets its keys: the views show them
                self.database.flush()
        except HTTPException as exc:
            answer = exc.wsgi_response
            if answer.status_int < 400:
                session.store(page, state_id)
            raise

        for result in results:
            if isinstance(result, Response):  # an action that answers by itself (an image, a file)
                session.store(page, state_id)  # no page rendered: its links are the state's own
                return result

        context = nagare_security.current()
        if context.logout is not None:
            reply = self.after_logout(request, session, page, context.logout, is_xhr)
            if reply is not None:
                return reply
        if context.login and not is_xhr:
            return self.renew_session(request, response, session, page)

        if is_xhr:
            return self.render_updates(request, response, session, page, results)

        if actions and request.method == "POST":
            try:
                reply = self.on_after_post(request, response, [f"_s={session.session_id}", f"_c={session.next_state_id:05d}"])
            except HTTPException as exc:
                reply = exc.wsgi_response
            if reply is not None:  # the page is not rendered: the state of the URL it redirects to is stored
                session.store(page, session.next_state_id)
                return reply

        # A new state even without actions (a reload, the back button): rendering registers new
        # action ids, and the pages already shown from this state (another tab, the browser's
        # cache) must keep working with theirs.
        return self.render_page(request, response, session, page)

    def renew_session(self, request: Request, response: Response, session: Session[Any], page: PageState) -> Response:
        """After a login, the page goes on in a new session (new ids, a new secure-id cookie) and
        the old one is deleted: a session id known before the login (fixation) is worth nothing."""
        assert self.sessions is not None
        with self.sessions.create() as fresh:
            self.set_cookie(request, response, fresh.secure_id)
            answer = self.render_page(request, response, fresh, page)
        session.delete()
        return answer

    def after_logout(
        self, request: Request, session: Session[Any], page: PageState, logout: Logout, is_xhr: bool
    ) -> Response | None:
        """`security.get_manager().logout(location, delete_session)` was called by an action: the
        answer, or None to render the page as usual (the user is already anonymous)."""
        if logout.delete_session:
            session.delete()  # nothing of the user's session outlives the logout
        elif logout.location:
            session.store(page, session.state_id if session.state_id is not None else session.next_state_id)
        else:
            return None
        location = logout.location or request.path_url
        return json_response({"updates": [], "reload": location}) if is_xhr else HTTPSeeOther(location=location)

    def state_url(self, request: Request, session_id: str, state_id: int) -> str:
        return f"{request.path_url}?_s={session_id}&_c={state_id:05d}"

    def render_page(self, request: Request, response: Response, session: Session[Any], page: PageState) -> Response:
        """Render the whole page with fresh action ids, store it as the state `next_state_id`."""
        page.callbacks.clear()
        h = self.create_renderer(False, session, request, response, page.callbacks)
        content_type = response.headers.get("Content-Type")
        output = page.root.render(h)
        if session.state_id is not None and session.manager.states_history and session.state_id + 1 != session.next_state_id:
            output = self.on_back(request, response, h, output)
        body = h.page(output, self.always_html)
        _release(h)
        session.store(page, session.next_state_id)
        if response.headers.get("Content-Type") == content_type:  # else a view set its own (`h.response`)
            response.headers["Content-Type"] = h.content_type
        response.body = body
        response.cache_control = "no-cache"
        return response

    def render_updates(self, request: Request, response: Response, session: Session[Any], page: PageState, results: list[Any]) -> Response:
        """An XHR request: render the parts its actions asked for, keep the state in place."""
        state_id = session.state_id
        assert state_id is not None
        h = self.create_renderer(True, session, request, response, page.callbacks)
        updates, reload = [], None
        for result in results:
            # an ajax.Updates answers several renderings
            for rendering in result if isinstance(result, list) else (result,):
                if not isinstance(rendering, ajax.Rendering):
                    continue
                component = rendering.component
                if component is None and not callable(rendering.render):
                    reload = self.state_url(request, session.session_id, state_id)
                    continue
                renderer = h.AsyncRenderer()
                if rendering.url:
                    # the URL the component was rendered under: its links keep their path
                    renderer.url = rendering.url
                if callable(rendering.render):
                    if component is not None:
                        # its links and buttons update the same component again
                        renderer.start_rendering(component, component.model)
                    output = rendering.render(renderer)
                    updates.append({"id": rendering.dom_id, "mode": "inner", "html": h.fragment(output)})
                elif component is not None:
                    output = component.render(renderer, rendering.render)
                    updates.append({"id": rendering.dom_id, "mode": "outer", "html": h.fragment(output)})
        _release(h)
        session.store(page, state_id)  # the page shown keeps its state id: its links stay valid
        return json_response({"updates": updates, "head": h.head_assets(), "reload": reload}, response)


class _RequestScope:
    """`WSGIApp.request_scope()`'s context manager (a class: a generator's costs more, once a request)."""

    __slots__ = ("app", "request", "response", "binding", "tokens")

    def __init__(self, app: WSGIApp, request: Request, response: Response) -> None:
        self.app, self.request, self.response = app, request, response

    def __enter__(self) -> None:
        app = self.app
        self.tokens = (
            log.set_logger(app.log.name),
            current_app.set(app),
            i18n.set_locale(app.default_locale),
            _request_locale.set(None),
        )
        try:
            self.binding = binding = nagare_security.bind(app.security, self.request, self.response)
            binding.__enter__()
        except BaseException:
            self._reset()
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.binding.__exit__(kind, error, tb)
        finally:
            self._reset()

    def _reset(self) -> None:
        log_token, app_token, locale_token, chosen_token = self.tokens
        _request_locale.reset(chosen_token)
        locale_token.var.reset(locale_token)
        current_app.reset(app_token)
        log_token.var.reset(log_token)


def create_WSGIApp(app: Any, with_component: bool = True) -> WSGIApp:  # noqa: N802 (the Nagare 0.5 name)
    """`app` as an application: a `WSGIApp` as it is, a root factory (a class, a function) in a new one.

    `with_component` is Nagare 0.5's; a root that is not a `Component` is put in one either way.
    """
    return app if isinstance(app, WSGIApp) else WSGIApp(app)


def _first_line(exc: BaseException) -> str:
    """The first line of what an exception says (a driver's message may run over several)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _release(h: Any) -> None:
    """The rendering is serialised: its tags and renderers are freed now (`xml.Renderer._release`),
    not by the cyclic garbage collector; a renderer of another kind is left as it is."""
    release = getattr(h, "_release", None)
    if release is not None:
        release()


def _or(reply: Response | None, response: Response) -> Response:
    """What a hook answers: its reply, else the response it was given."""
    return response if reply is None else reply


def _is_xhr(request: Request) -> bool:
    return "_a" in request.params


def _unknown(callbacks: Callbacks, actions: list[ParsedAction]) -> bool:
    """Whether an action of the request is not registered in the state."""
    # Callbacks offers no lookup of its own: the registry is read as `run()` reads it.
    registered = callbacks._callbacks
    return any(key not in registered for _, key, _, _ in actions)


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

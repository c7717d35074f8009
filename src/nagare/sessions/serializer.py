"""Turning a state (component tree + callbacks) into authenticated bytes and back.

Pickling (`nagare.sessions.pickler`) accepts lambdas, closures and bound methods as actions
(Nagare 0.5 on CPython could not pickle them). Objects marked `state.stateless` are pickled
apart, once per session, and referenced from each state.

Every blob is authenticated: HMAC-SHA256 over (session id, blob kind and state id, bytes) with a key derived
from the deployment secret. A blob altered in the store, or moved from another session, is
refused before anything is unpickled — unpickling untrusted bytes runs arbitrary code.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import secrets
from typing import TypeAlias

from nagare.errors import DatabaseUnavailableError, NagareError, StateError
from nagare.sessions.pickler import Pickler, Unpickler

MAC_SIZE = 32
SECRET_ENV = "NAGARE_SECRET_FILE"

#: the stateless objects of a session met so far: id(obj) -> (pid, obj)
Shared: TypeAlias = dict[int, tuple[str, object]]


class Serializer:
    """Pickles and authenticates the states of one application's sessions."""

    def __init__(self, secret: bytes, application: str = "") -> None:
        # One key per application: a state of one application is not valid in another.
        self.key = hmac.new(secret, b"nagare-state:" + application.encode(), hashlib.sha256).digest()
        # The key's HMAC state, made once: each MAC starts from a copy (the key's two hashed
        # blocks are not hashed again for every blob, four times a request).
        self._keyed = hmac.new(self.key, digestmod=hashlib.sha256)
        # session id -> the signed shared blob of that session when it shares nothing (most
        # sessions): the MAC of the same bytes for the same session, made once, not at every
        # store and load. Bounded; emptied when full.
        self._no_shared: dict[str, bytes] = {}

    def _mac(self, session_id: str, kind: bytes, data: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(b"%s\0%s\0" % (session_id.encode(), kind))
        mac.update(data)
        return mac.digest()

    def sign(self, session_id: str, kind: bytes, data: bytes) -> bytes:
        return self._mac(session_id, kind, data) + data

    def verify(self, session_id: str, kind: bytes, blob: bytes) -> bytes:
        if not isinstance(blob, (bytes, bytearray)) or len(blob) < MAC_SIZE:
            raise StateError("stored state is truncated")
        mac, data = bytes(blob[:MAC_SIZE]), bytes(blob[MAC_SIZE:])
        if not hmac.compare_digest(mac, self._mac(session_id, kind, data)):
            raise StateError("stored state is not authentic (altered, or from another session)")
        return data

    def dumps(self, session_id: str, state: object, shared: Shared, state_id: int | None = None) -> tuple[bytes, bytes]:
        """(state blob, shared blob): `shared` maps id(obj) -> (pid, obj), updated in place."""
        buffer = io.BytesIO()
        Pickler(buffer, shared).dump(state)
        state_bytes = buffer.getvalue()
        if shared:
            buffer = io.BytesIO()
            Pickler(buffer).dump({pid: obj for pid, obj in shared.values()})
            shared_bytes = buffer.getvalue()
            return self.sign(session_id, _state_kind(state_id), state_bytes), self.sign(session_id, b"shared", shared_bytes)
        # most sessions share nothing: the bytes of an empty mapping, pickled once, signed once
        return self.sign(session_id, _state_kind(state_id), state_bytes), self._signed_no_shared(session_id)

    def _signed_no_shared(self, session_id: str) -> bytes:
        signed = self._no_shared.get(session_id)
        if signed is None:
            signed = self.sign(session_id, b"shared", _NO_SHARED)
            if len(self._no_shared) >= _NO_SHARED_KEPT:
                self._no_shared.clear()
            self._no_shared[session_id] = signed
        return signed

    def loads(
        self, session_id: str, state_blob: bytes, shared_blob: bytes | None, state_id: int | None = None
    ) -> tuple[object, Shared]:
        """The state and the `shared` mapping to hand back to `dumps` on the next store."""
        # Both blobs are verified before either is unpickled: an authentic shared blob must not
        # be loaded (running its reducers) on behalf of an altered state blob.
        state_data = self.verify(session_id, _state_kind(state_id), state_blob)
        shared_data: bytes | None = None
        if shared_blob is not None:
            known = self._no_shared.get(session_id)
            if known is not None and shared_blob.__class__ is bytes and hmac.compare_digest(shared_blob, known):
                shared_data = _NO_SHARED  # the very bytes this serializer signed for the session
            else:
                shared_data = self.verify(session_id, b"shared", shared_blob)
        shared_objects: dict[str, object] = {}
        if shared_data is not None and shared_data != _NO_SHARED:
            loaded = self._unpickle(shared_data, {})
            if not isinstance(loaded, dict):
                raise StateError("stored shared objects are not a mapping")
            shared_objects = loaded
        state = self._unpickle(state_data, shared_objects)
        return state, {id(obj): (pid, obj) for pid, obj in shared_objects.items()}

    @staticmethod
    def _unpickle(data: bytes, shared: dict[str, object]) -> object:
        try:
            loaded: object = Unpickler(io.BytesIO(data), shared).load()
            return loaded
        except (StateError, DatabaseUnavailableError):
            raise
        except Exception as exc:
            # Authentic bytes that no longer load: the application's code changed under them.
            raise StateError(f"stored state cannot be loaded: {type(exc).__name__}: {exc}") from exc


def _pickled(obj: object) -> bytes:
    buffer = io.BytesIO()
    Pickler(buffer, primed=False).dump(obj)
    return buffer.getvalue()


#: The shared blob of a session that shares nothing (what `dumps` wrote for it before: the same
#: bytes, a plain pickle).
_NO_SHARED = _pickled({})


#: The sessions whose signed blob of `_NO_SHARED` a serializer keeps.
_NO_SHARED_KEPT = 1024


def _state_kind(state_id: int | None) -> bytes:
    # With its id in the MAC, a state cannot be swapped for another state of the same session.
    return b"state" if state_id is None else b"state:%d" % state_id


def load_secret(configured: str | None) -> bytes:
    """The deployment secret: the configured one, else one generated once and kept in a file.

    The file is `$NAGARE_SECRET_FILE`, else `~/.config/nagare/secret`, created readable by its
    owner only. Every process of the machine shares it; machines of a cluster need `secret` set.
    """
    if configured:
        return configured.encode()
    path = os.environ.get(SECRET_ENV) or os.path.join(os.path.expanduser("~"), ".config", "nagare", "secret")
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    secret = secrets.token_hex(32).encode()
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"  # unique per thread too
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secret + b"\n")
        try:
            os.link(tmp, path)  # first writer wins: concurrent starts agree on one secret
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise NagareError(
            f"cannot keep a session secret in {path} ({exc.strerror}): set [sessions] secret, or ${SECRET_ENV}"
        ) from None
    return _read_secret(path)


def _read_secret(path: str) -> bytes:
    """The secret kept in `path`; FileNotFoundError when there is none yet."""
    try:
        with open(path, "rb") as f:
            secret = f.read().strip()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise NagareError(f"cannot read the session secret {path}: {exc.strerror}") from None
    if len(secret) < 32:  # never authenticate with an empty or guessable key
        raise NagareError(f"the session secret {path} is shorter than 32 bytes: delete it or set [sessions] secret")
    return secret

"""The manager of an application that sets none: nobody is authenticated, only `public` passes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nagare.security import common

if TYPE_CHECKING:
    from webob import Request, Response


class Manager(common.Authentication, common.Rules):
    """Every user is anonymous (None); the default rules: `public` passes, the rest is refused (403)."""

    def create_user(self, request: Request, response: Response, *args: Any) -> None:
        """Nobody: the request reads no credentials."""
        return None

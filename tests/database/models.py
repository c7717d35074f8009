"""The models and pages of the database tests: an application of ours, SQLAlchemy 2.x style."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm
from webob import exc

from nagare import presentation
from nagare.database import query, session


class Base(orm.DeclarativeBase):
    pass


metadata = Base.metadata


class Item(Base):
    __tablename__ = "item"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(50))


class Root:
    """A page keeping an entity in its state, with actions that write, fail and refuse."""

    def __init__(self) -> None:
        self.item: Item | None = None
        self.draft = Item(name="draft")  # transient: never added to the session

    def add(self) -> None:
        self.item = Item(name="one")
        session.add(self.item)

    def rename(self, name: str) -> None:
        assert self.item is not None
        self.item.name = name

    def boom(self) -> None:
        session.add(Item(name="boom"))
        raise RuntimeError("boom")

    def refuse(self) -> None:
        session.add(Item(name="refused"))
        raise exc.HTTPForbidden()


@presentation.render_for(Root)
def render(self: Root, h, comp, *args):
    h << h.a("add", id="add").action(self.add)
    h << h.a("rename", id="rename").action(self.rename, "renamed")
    h << h.a("boom", id="boom").action(self.boom)
    h << h.a("refuse", id="refuse").action(self.refuse)
    item = self.item
    h << h.span(f"{item.id} {item.name}" if item is not None else "-", id="item")
    h << h.span(self.draft.name, id="draft")
    h << h.span(str(query(Item).count()), id="count")
    return h.root


def populate() -> None:
    session.add(Item(name="populated"))


class OtherBase(orm.DeclarativeBase):
    """The models of a second database."""


other_metadata = OtherBase.metadata


class Archived(OtherBase):
    __tablename__ = "archived"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)

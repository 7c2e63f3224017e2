"""Tables of resources that belong to an account and a region.

A service declares each resource once:

    class Vocabulary(Scoped, Base):                       # account_id + region columns (part of the key)
        __tablename__ = "transcribe_vocabularies"
        name: Mapped[str] = mapped_column(String(200), primary_key=True)
        ...

    VOCABULARIES = ResourceTable(Vocabulary, key="name",
                                 not_found=lambda name: NotFound("The requested vocabulary couldn't be found."),
                                 conflict=lambda name: Conflict("The requested vocabulary name already exists."))

and its handlers call `VOCABULARIES.get(ctx, name)` (the row, or the service's not-found error),
`.create(ctx, name=..., ...)` (the service's conflict error when the key is taken), `.update(ctx, name, **fields)`,
`.delete(ctx, name)`, `.list(ctx, where..., order_by=...)` and `.query(ctx)` (a scoped SELECT, for paging).
Every lookup is scoped: another account's or region's row is "not found", never visible.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, Sequence, TypeVar

from sqlalchemy import Select, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.gateway.context import Principal, RequestContext
from services.gateway.errors import ServiceError
from services.gateway.kit.times import aware
from services.gateway.runtime import runtime

if TYPE_CHECKING:
    from services.gateway.jobs import Job

Row = TypeVar("Row")
Scope = Principal | RequestContext


class Scoped:
    """Mixin of the account and region columns; they lead the primary key, so a key is unique per scope."""

    account_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)


class ScopedByArn:
    """Mixin for resources keyed by their ARN (which already names account and region): indexed scope columns."""

    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32))


class JobBacked:
    """Mixin of a resource row whose creation is a durable job (Forecast's and Personalize's ARN-keyed tables): it
    reads the job (`job_id`, once per loaded row) and its times off it. The row declares `account_id`, `region`,
    `job_id`, `created_at` and `modified_at`."""

    def job(self) -> Job | None:
        """The creation job, read once per loaded row (a Describe or List reads status, result and times off it)."""
        if self.job_id is None:
            return None
        if self.__dict__.get("_job_of") != self.job_id:
            self.__dict__["_job"] = runtime().jobs.store.get(Principal(self.account_id, self.region), None,
                                                             self.job_id)
            self.__dict__["_job_of"] = self.job_id
        return self.__dict__["_job"]

    @property
    def created(self) -> dt.datetime:
        return aware(self.created_at)

    def last_modified(self) -> dt.datetime:
        job = self.job()
        times = [aware(self.modified_at)] + ([aware(job.updated_at)] if job is not None else [])
        return max(time for time in times if time is not None)


def _principal(scope: Scope) -> Principal:
    return scope.principal if isinstance(scope, RequestContext) else scope


@contextmanager
def session() -> Iterator[Session]:
    """A transaction on the metadata database (committed on success)."""
    with runtime().db.session() as found:
        yield found


@dataclass(frozen=True)
class ResourceTable(Generic[Row]):
    model: type[Row]
    key: str  # the column that names the resource within its scope ("name", "arn", ...)
    not_found: Callable[[str], ServiceError]
    conflict: Callable[[str], ServiceError] | None = None
    # Extra conditions every lookup adds (e.g. one kind of a table shared by two resource types).
    where: tuple = ()

    def _column(self):
        return getattr(self.model, self.key)

    def query(self, scope: Scope, *where: Any) -> Select:
        principal = _principal(scope)
        return select(self.model).where(self.model.account_id == principal.account_id,  # type: ignore[attr-defined]
                                        self.model.region == principal.region,  # type: ignore[attr-defined]
                                        *self.where, *where)

    def find(self, scope: Scope, key: str, db: Session | None = None) -> Row | None:
        """The caller's row, or None."""
        query = self.query(scope, self._column() == key)
        if db is not None:
            return db.scalar(query)
        with session() as db:
            return db.scalar(query)

    def get(self, scope: Scope, key: str, db: Session | None = None) -> Row:
        """The caller's row, or the service's not-found error."""
        row = self.find(scope, key, db)
        if row is None:
            raise self.not_found(key)
        return row

    def exists(self, scope: Scope, key: str) -> bool:
        return self.find(scope, key) is not None

    def list(self, scope: Scope, *where: Any, order_by: Sequence[Any] = ()) -> list[Row]:
        query = self.query(scope, *where).order_by(*(order_by or (self._column(),)))
        with session() as db:
            return list(db.scalars(query))

    def create(self, scope: Scope, db: Session | None = None, **fields: Any) -> Row:
        """Insert the row (scope filled in); the service's conflict error when its key is already taken.
        With `db`, inside that transaction (rows that must be written with it, e.g. a first history event)."""
        principal = _principal(scope)
        key = fields[self.key]
        if db is None:
            with session() as db:
                return self.create(principal, db, **fields)
        if self.find(principal, key, db) is not None:
            if self.conflict is None:
                raise ValueError(f"{self.model.__name__} {key!r} exists and no conflict error is declared")
            raise self.conflict(key)
        row = self.model(account_id=principal.account_id, region=principal.region, **fields)  # type: ignore
        db.add(row)
        return row

    def count(self, scope: Scope, *where: Any, db: Session | None = None) -> int:
        """How many rows the caller has (matching `where`)."""
        query = select(func.count()).select_from(self.query(scope, *where).subquery())
        if db is not None:
            return db.scalar(query) or 0
        with session() as db:
            return db.scalar(query) or 0

    def put(self, scope: Scope, key: str, values: dict[str, Any], *, created: dict[str, Any] | None = None,
            limit: int | None = None, over_limit: Callable[[int], ServiceError] | None = None) -> tuple[Row, bool]:
        """Create-or-replace in one transaction (PutLexicon, ImportTerminology with OVERWRITE): the caller's row
        `key` gets `values`; a new row also gets `created` (e.g. its creation time), and with `limit`, a new row
        beyond `limit` rows in the scope is refused with `over_limit(limit)`. Returns (row, whether it is new)."""
        principal = _principal(scope)
        with session() as db:
            row = self.find(principal, key, db)
            if row is not None:
                for name, value in values.items():
                    setattr(row, name, value)
                return row, False
            if limit is not None and self.count(principal, db=db) >= limit:
                if over_limit is None:
                    raise ValueError(f"{self.model.__name__}: a limit needs its over_limit error")
                raise over_limit(limit)
            row = self.model(account_id=principal.account_id, region=principal.region,  # type: ignore[call-arg]
                             **{self.key: key}, **(created or {}), **values)
            db.add(row)
        return row, True

    @contextmanager
    def editing(self, scope: Scope, key: str) -> Iterator[Row]:
        """The caller's row inside a transaction: changes made to it are committed on exit."""
        with session() as db:
            yield self.get(scope, key, db)

    def update(self, scope: Scope, key: str, **fields: Any) -> Row:
        with self.editing(scope, key) as row:
            for name, value in fields.items():
                setattr(row, name, value)
        return row

    def delete(self, scope: Scope, key: str) -> Row:
        """Delete the caller's row (the service's not-found error when there is none); returns it."""
        with session() as db:
            row = self.get(scope, key, db)
            db.delete(row)
        return row

"""The metadata database (jobs and every service's resources) through SQLAlchemy: a SQLite file in the data
folder by default, PostgreSQL by URL when several processes share the work."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    """Every service's tables derive from this, so one create_all makes the whole schema."""


class Database:
    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            # A local file needs no liveness ping per checkout. The pool keeps a connection for each of the serving
            # threads (anyio's 40) rather than opening and closing overflow ones, each costing the pragmas below.
            options: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}, "pool_size": 40,
                             "max_overflow": 40}
        else:
            options = {"pool_pre_ping": True}  # a server may have dropped an idle connection
        self.engine: Engine = create_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets readers (Describe/List) run while a job writes; busy_timeout waits out short write locks.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()

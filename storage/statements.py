"""The hot paths' statements, compiled once per dialect and run on the driver's cursor.

SQLAlchemy spends about 40 µs of Python on every execution of even a cached Core
statement (an execution context, parameter construction, result metadata, events); a
request that runs three of them spends more there than in the database. A `Prepared`
statement does that work once: its SQL, its parameters' order and its bind and result
conversions (the column types' own, so UtcDateTime and friends behave as everywhere) are
kept per dialect, and each execution is one cursor call inside the transaction of the
session or statement unit (storage.units) it runs in.
Driver errors come out as SQLAlchemy's (IntegrityError, OperationalError...), the same
exceptions every other statement raises.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.instrumentation import manager_of_class

from .units import StatementUnit, UnitOfWork


class _Compiled:
    __slots__ = ("sql", "names", "defaults", "binds", "columns", "dialect", "results", "dbapi_error")

    def __init__(self, statement, dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.names = compiled.positiontup  # None for a named paramstyle (psycopg)
        self.defaults = {name: value for name, value in compiled.params.items() if value is not None}
        self.binds: list[tuple[str, Callable]] = []
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.binds.append((name, processor))
        self.columns, self.dialect = list(statement.exported_columns), dialect
        # Some result conversions depend on the driver's type code of the column (psycopg's
        # numerics): known from the first execution's cursor.description.
        self.results: Optional[list[Optional[Callable]]] = None
        self.dbapi_error = dialect.loaded_dbapi.Error

    def parameters(self, given: Mapping[str, Any]):
        values = {**self.defaults, **given}
        for name, processor in self.binds:
            if values.get(name) is not None:  # None is SQL NULL for every type (JSON's processor would write 'null')
                values[name] = processor(values[name])
        if self.names is None:
            return values
        return tuple(values[name] for name in self.names)

    def conversions(self, cursor) -> list[Optional[Callable]]:
        if self.results is None:
            self.results = [column.type.dialect_impl(self.dialect).result_processor(self.dialect, described[1])
                            for column, described in zip(self.columns, cursor.description, strict=True)]
        return self.results

    def row(self, raw) -> tuple:
        return tuple(value if process is None or value is None else process(value)
                     for process, value in zip(self.results, raw, strict=True))


class Prepared:
    """A Core statement whose every bind parameter is named (bindparam) or literal."""

    def __init__(self, statement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = _Compiled(self.statement, dialect)
        return compiled

    def _execute(self, session: UnitOfWork, params: Mapping[str, Any]):
        # Either begins the transaction as any statement would.
        if isinstance(session, StatementUnit):
            dialect, driver = session.dialect, session.driver_connection()
        else:
            connection = session.connection()
            dialect, driver = connection.dialect, connection.connection.driver_connection
        compiled = self._compiled(dialect)
        parameters = compiled.parameters(params)
        cursor = driver.cursor()
        try:
            cursor.execute(compiled.sql, parameters)
        except compiled.dbapi_error as exc:
            cursor.close()
            raise DBAPIError.instance(compiled.sql, parameters, exc, compiled.dbapi_error, dialect=dialect) from exc
        return compiled, cursor

    def run(self, session: UnitOfWork, params: Mapping[str, Any]) -> None:
        """Execute for its effect."""
        _, cursor = self._execute(session, params)
        cursor.close()

    def first(self, session: UnitOfWork, params: Mapping[str, Any]) -> Optional[tuple]:
        """The first row (converted by the columns' types), or None."""
        compiled, cursor = self._execute(session, params)
        try:
            raw = cursor.fetchone()
            if raw is not None:
                compiled.conversions(cursor)
        finally:
            cursor.close()
        return None if raw is None else compiled.row(raw)

    def all(self, session: UnitOfWork, params: Mapping[str, Any]) -> list[tuple]:
        """Every row (converted by the columns' types)."""
        compiled, cursor = self._execute(session, params)
        try:
            rows = cursor.fetchall()
            if rows:
                compiled.conversions(cursor)
            return [compiled.row(raw) for raw in rows]
        finally:
            cursor.close()


def detached(model, columns, values):
    """An instance of `model` in no session, built from some of its table's `columns` and
    their `values` (a prepared row): for callers that expect the model, without an ORM load.
    Its attributes are set in its __dict__, as a load sets them: the mapped __init__ sends
    each one through the attribute events (a User's eight: 11 µs against 3, on every signed-in
    request)."""
    instance = manager_of_class(model).new_instance()
    instance.__dict__.update({column.key: value for column, value in zip(columns, values, strict=True)})
    return instance

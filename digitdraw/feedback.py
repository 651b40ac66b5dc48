"""Corrections people give the app ("that was a 4"), kept safely in a database.

SQLAlchemy Core over SQLite by default (a file in the user data folder, WAL mode, a busy timeout), or
any SQLAlchemy URL: $DIGITDRAW_DB_URL, or an explicit URL (the CLI's --db). PostgreSQL (psycopg 3) is
the choice when several app servers share the corrections. The schema is built and upgraded by the
store itself (digitdraw.feedback_schema). A database that is busy, read-only, full or out of reach
raises FeedbackStoreError with a sentence for the user; nothing half-saved stays behind, so the
caller keeps the drawing on screen and the user can retry.

Export and import use the pendigits stroke format, one JSON object a line:
{"label": 4, "strokes": [[[x, y], ...], ...]} with an optional "writer"; label 10 is "not a digit".
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import platformdirs
import sqlalchemy as sa

from digitdraw import feedback_schema as schema
from digitdraw import strokes as strokes_mod

DB_URL_ENV = "DIGITDRAW_DB_URL"
DB_FILENAME = "feedback.sqlite3"
NOT_A_DIGIT = 10
LABELS = range(NOT_A_DIGIT + 1)
IMPORT_BROWSER_ID = "import"  # the browser id of drawings that came from a JSONL file
BUSY_TIMEOUT_S = 5.0  # wait this long for another writer's lock before telling the user
IMAGE_SHAPE = (28, 28)
_BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LINE_KEYS = {"label", "strokes", "writer"}
_MAX_ERRORS_SHOWN = 20
# Serialises migrations on PostgreSQL across servers (any constant; "digi" in ASCII).
_MIGRATION_LOCK = 0x64696769
_WRITE = "digitdraw_write"


# --------------------------------------------------------------------------- where


def default_db_url() -> str:
    """SQLite in the user data folder (e.g. ~/.local/share/digitdraw/feedback.sqlite3)."""
    return f"sqlite:///{Path(platformdirs.user_data_dir('digitdraw')) / DB_FILENAME}"


def db_url(explicit: str | None = None) -> str:
    """The database to use: `explicit` (the CLI's --db), else $DIGITDRAW_DB_URL, else the default."""
    return explicit or os.environ.get(DB_URL_ENV) or default_db_url()


def new_browser_id() -> str:
    """A fresh anonymous browser id (random; says nothing about the person)."""
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- records


class FeedbackStoreError(RuntimeError):
    """The database could not do what was asked; `str()` is a message for the user.

    reason: "busy" (locked by another writer), "read-only", "full", "schema" (a newer schema than
    this app knows), or "unavailable" (cannot open or reach it, or any other database failure).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class FeedbackImportError(ValueError):
    """Some lines of a JSONL file are not corrections; nothing was imported. `errors`: one per line."""

    def __init__(self, source: str, errors: list[str], whole_file: bool = False) -> None:
        if whole_file:  # the file itself (unreadable, empty): no line to blame
            super().__init__(f"{source}: {'; '.join(errors)}; nothing imported.")
        else:
            shown = errors[:_MAX_ERRORS_SHOWN]
            more = f"\n  ... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
            super().__init__(
                f"{source}: {len(errors)} bad line(s), nothing imported:\n  " + "\n  ".join(shown) + more
            )
        self.errors = errors


@dataclass(frozen=True)
class ModelAnswer:
    """What one model said about a drawing."""

    model: str
    answer: int
    probabilities: tuple[float, ...]


@dataclass(frozen=True)
class Drawing:
    """One saved correction."""

    id: int
    browser_id: str
    created_at: datetime  # UTC
    label: int
    strokes: strokes_mod.Strokes
    image: np.ndarray = field(repr=False)  # (28, 28) float32: the model input
    pen_width: float | None
    source: str
    writer: int | None
    answers: tuple[ModelAnswer, ...]

    @property
    def wrong(self) -> bool:
        """True when at least one model's answer was not the label."""
        return any(a.answer != self.label for a in self.answers)


@dataclass(frozen=True)
class ModelAccuracy:
    model: str
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass(frozen=True)
class ImportLine:
    """A valid line of a JSONL file, with its rendered model input."""

    label: int
    strokes: strokes_mod.Strokes
    writer: int | None
    image: np.ndarray


# --------------------------------------------------------------------------- checks


def _check_label(label: Any) -> int:
    if isinstance(label, bool) or not isinstance(label, int | np.integer) or int(label) not in LABELS:
        raise ValueError(
            f"label must be a digit 0-9 or {NOT_A_DIGIT} (not a digit), got {strokes_mod.shown(label)}"
        )
    return int(label)


def _check_browser_id(browser_id: str) -> str:
    if not isinstance(browser_id, str) or not _BROWSER_ID.fullmatch(browser_id):
        raise ValueError("browser id must be 1-64 letters, digits, '-' or '_'")
    return browser_id


def _check_image(image: np.ndarray) -> bytes:
    arr = np.asarray(image, dtype="<f4")
    if arr.shape != IMAGE_SHAPE or not np.all(np.isfinite(arr)):
        raise ValueError(f"the model input must be a finite {IMAGE_SHAPE} image, got shape {arr.shape}")
    return arr.tobytes()


def _check_answer(answer: ModelAnswer) -> dict:
    if not answer.model or len(answer.model) > 200:
        raise ValueError("a model answer needs a model name (1-200 characters)")
    probs = [float(p) for p in answer.probabilities]
    if len(probs) not in (10, 11) or not all(np.isfinite(probs)):
        raise ValueError(f"{answer.model}: probabilities must be 10 or 11 finite numbers")
    return {"model": answer.model, "answer": _check_label(answer.answer), "probabilities": probs}


# --------------------------------------------------------------------------- the store


class FeedbackStore:
    """The corrections database. Opening it creates or upgrades the schema.

    url: any SQLAlchemy URL (None: `db_url()`); "postgresql://" uses psycopg 3. busy_timeout: seconds
    to wait for another writer's lock (SQLite busy timeout, PostgreSQL lock_timeout) before giving
    the user a "busy" message. One store is safe to share between threads.
    """

    def __init__(self, url: str | None = None, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        resolved = db_url(url)
        try:
            parsed = sa.make_url(resolved)
        except sa.exc.ArgumentError as exc:
            hint = ""
            if "://" not in resolved:  # a file path: what its SQLite URL is
                hint = f"; for a SQLite file write sqlite:///{Path(resolved).expanduser().absolute()}"
            raise FeedbackStoreError(
                f"{resolved!r} is not a database URL ({exc}){hint}", "unavailable"
            ) from exc
        if parsed.get_backend_name() == "sqlite" and (parsed.database or "").startswith("~"):
            # sqlite:///~/x.sqlite3: the home folder, as the folder check and a shell read it
            parsed = parsed.set(database=str(Path(parsed.database).expanduser()))
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed
        self.where = parsed.render_as_string(hide_password=True)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            self._make_parent(parsed)
        else:
            kwargs["pool_pre_ping"] = True  # a restarted server's dead connections are replaced
        try:
            self.engine = sa.create_engine(parsed, **kwargs)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise FeedbackStoreError(f"cannot use the database {self.where}: {exc}", "unavailable") from exc
        self._install_hooks(busy_timeout)
        self.schema_version = self._migrate()

    def _make_parent(self, parsed: sa.URL) -> None:
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeedbackStoreError(
                f"cannot create the folder for the database {database}: {exc.strerror}", "unavailable"
            ) from exc

    def _install_hooks(self, busy_timeout: float) -> None:
        ms = max(0, int(busy_timeout * 1000))
        if self.is_sqlite:

            @sa.event.listens_for(self.engine, "connect")
            def _sqlite_connect(dbapi_conn, _record) -> None:
                # We emit BEGIN ourselves (SQLAlchemy's pysqlite recipe): pysqlite's own would
                # leave DDL outside transactions and cannot take the write lock up front.
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute(f"PRAGMA busy_timeout = {ms}")
                cur.execute("PRAGMA foreign_keys = ON")
                with contextlib.suppress(Exception):  # a read-only file keeps its journal mode
                    cur.execute("PRAGMA journal_mode = WAL")
                cur.close()

            @sa.event.listens_for(self.engine, "begin")
            def _sqlite_begin(conn) -> None:
                # A writer takes the lock at BEGIN, waiting up to the busy timeout; taking it later
                # (on the first INSERT) can fail at once instead of waiting.
                write = conn.get_execution_options().get(_WRITE)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        else:

            @sa.event.listens_for(self.engine, "connect")
            def _pg_connect(dbapi_conn, _record) -> None:
                if self.engine.dialect.name == "postgresql":
                    with dbapi_conn.cursor() as cur:
                        cur.execute(f"SET lock_timeout = {ms}")
                    dbapi_conn.commit()

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise self._store_error(exc) from exc

    def _store_error(self, exc: BaseException) -> FeedbackStoreError:
        orig = getattr(exc, "orig", None) or exc
        text = str(orig).lower()
        state = getattr(orig, "sqlstate", None) or ""
        if state in ("55P03", "40P01") or "locked" in text or "busy" in text:
            return FeedbackStoreError(
                f"The corrections database ({self.where}) is busy: another program is writing to it. "
                "Nothing was saved; try again in a moment.",
                "busy",
            )
        if state == "25006" or "readonly" in text or "read-only" in text:
            return FeedbackStoreError(
                f"The corrections database ({self.where}) is read-only, so nothing can be saved. "
                "Ask whoever runs the app to make it writable.",
                "read-only",
            )
        if state.startswith("53") or "is full" in text or "no space" in text:
            return FeedbackStoreError(
                f"The corrections database ({self.where}) is full (no space left). Nothing was saved; "
                "free some space or delete old drawings, then try again.",
                "full",
            )
        first_line = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return FeedbackStoreError(
            f"Could not use the corrections database ({self.where}): {first_line}", "unavailable"
        )

    def _migrate(self) -> int:
        with self._transaction(write=True) as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            version = schema.current_version(conn)
            if version > schema.LATEST:
                raise FeedbackStoreError(
                    f"The corrections database ({self.where}) has schema version {version}, newer than "
                    f"this app knows ({schema.LATEST}); update digitdraw.",
                    "schema",
                )
            if version < schema.LATEST:
                schema.upgrade(conn)
        return schema.LATEST

    def close(self) -> None:
        self.engine.dispose()

    # ----------------------------------------------------------------------- operations

    def save(
        self,
        browser_id: str,
        label: int,
        strokes: Any,
        image: np.ndarray,
        answers: Sequence[ModelAnswer] = (),
        *,
        pen_width: float | None = None,
        source: Literal["canvas", "import"] = "canvas",
        writer: int | None = None,
    ) -> int:
        """Keep one drawing with its label and the models' answers; returns its id.

        ValueError for bad input (nothing stored), FeedbackStoreError when the database fails.
        """
        row = self._row(browser_id, label, strokes, image, pen_width, source, writer)
        checked = [_check_answer(a) for a in answers]
        if len({a["model"] for a in checked}) != len(checked):
            raise ValueError("each model can answer a drawing once")
        with self._transaction(write=True) as conn:
            drawing_id = conn.execute(sa.insert(schema.drawings).values(**row)).inserted_primary_key[0]
            if checked:
                conn.execute(sa.insert(schema.answers), [{"drawing_id": drawing_id, **a} for a in checked])
        return int(drawing_id)

    @staticmethod
    def _row(browser_id, label, strokes, image, pen_width, source, writer) -> dict:
        if pen_width is not None and not (np.isfinite(pen_width) and pen_width > 0):
            raise ValueError(f"pen width must be a positive number of pixels, got {pen_width!r}")
        if source not in ("canvas", "import"):
            raise ValueError(f"source must be 'canvas' or 'import', got {source!r}")
        if writer is not None and (isinstance(writer, bool) or not isinstance(writer, int)):
            raise ValueError(f"writer must be a whole number, got {writer!r}")
        return {
            "browser_id": _check_browser_id(browser_id),
            "created_at": datetime.now(UTC),
            "label": _check_label(label),
            "strokes": strokes_mod.validate_strokes(strokes),
            "input_image": _check_image(image),
            "source": source,
            "writer": writer,
            "pen_width": None if pen_width is None else float(pen_width),
        }

    def list_drawings(
        self, browser_id: str | None, which: Literal["all", "wrong"] = "all", limit: int | None = None
    ) -> list[Drawing]:
        """One browser's drawings (None: everyone's), newest first; which="wrong": a model erred."""
        if which not in ("all", "wrong"):
            raise ValueError(f"which must be 'all' or 'wrong', got {which!r}")
        d, a = schema.drawings, schema.answers
        query = sa.select(d).order_by(d.c.id.desc())
        if browser_id is not None:
            query = query.where(d.c.browser_id == _check_browser_id(browser_id))
        if which == "wrong":
            erred = sa.select(a.c.drawing_id).where(a.c.drawing_id == d.c.id, a.c.answer != d.c.label)
            query = query.where(erred.exists())
        if limit is not None:
            query = query.limit(limit)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query).mappings().all()
            ids = [r["id"] for r in rows]
            by_drawing: dict[int, list[ModelAnswer]] = {i: [] for i in ids}
            if ids:
                for r in conn.execute(sa.select(a).where(a.c.drawing_id.in_(ids)).order_by(a.c.model)):
                    by_drawing[r.drawing_id].append(ModelAnswer(r.model, r.answer, tuple(r.probabilities)))
        return [_drawing(r, by_drawing[r["id"]]) for r in rows]

    def delete(self, drawing_id: int, browser_id: str) -> bool:
        """Delete a drawing of this browser; False when it has none with that id."""
        d = schema.drawings
        with self._transaction(write=True) as conn:
            owned = sa.select(d.c.id).where(
                d.c.id == drawing_id, d.c.browser_id == _check_browser_id(browser_id)
            )
            if conn.execute(owned).first() is None:
                return False
            conn.execute(sa.delete(schema.answers).where(schema.answers.c.drawing_id == drawing_id))
            conn.execute(sa.delete(d).where(d.c.id == drawing_id))
        return True

    def count(self, browser_id: str | None = None) -> int:
        d = schema.drawings
        query = sa.select(sa.func.count()).select_from(d)
        if browser_id is not None:
            query = query.where(d.c.browser_id == _check_browser_id(browser_id))
        with self._transaction(write=False) as conn:
            return int(conn.execute(query).scalar_one())

    def accuracy(self, browser_id: str | None = None) -> list[ModelAccuracy]:
        """Each model's accuracy on the stored drawings it answered (one browser's, or all)."""
        d, a = schema.drawings, schema.answers
        right = sa.func.sum(sa.case((a.c.answer == d.c.label, 1), else_=0))
        query = (
            sa.select(a.c.model, right, sa.func.count())
            .join(d, d.c.id == a.c.drawing_id)
            .group_by(a.c.model)
            .order_by(a.c.model)
        )
        if browser_id is not None:
            query = query.where(d.c.browser_id == _check_browser_id(browser_id))
        with self._transaction(write=False) as conn:
            return [ModelAccuracy(m, int(c), int(n)) for m, c, n in conn.execute(query)]

    # ----------------------------------------------------------------------- JSONL

    def export_jsonl(self, out: IO[str], browser_id: str | None = None) -> int:
        """Write drawings (oldest first) as pendigits JSONL lines to `out`; returns how many."""
        d = schema.drawings
        query = sa.select(d.c.label, d.c.strokes, d.c.writer).order_by(d.c.id)
        if browser_id is not None:
            query = query.where(d.c.browser_id == _check_browser_id(browser_id))
        n = 0
        with self._transaction(write=False) as conn:
            for label, strokes, writer in conn.execute(query):
                out.write(to_jsonl_line(label, strokes, writer) + "\n")
                n += 1
        return n

    def import_lines(
        self, lines: Sequence[ImportLine], browser_id: str = IMPORT_BROWSER_ID, pen_width: float | None = None
    ) -> Imported:
        """Store parsed lines (see `parse_jsonl`) in one transaction: all of them or none. A line this
        browser has stored already (the same label and strokes) is skipped, so that importing a file
        twice stores it once: twins of the same drawing on both sides of the fine-tune's held-out
        split made its before/after figure meaningless. Repeats within one file are kept as given."""
        pen = strokes_mod.IMPORT_PEN if pen_width is None else pen_width
        rows = [
            self._row(browser_id, line.label, line.strokes, line.image, pen, "import", line.writer)
            for line in lines
        ]
        d = schema.drawings
        ids = Imported()
        with self._transaction(write=True) as conn:
            mine = sa.select(d.c.label, d.c.strokes).where(d.c.browser_id == browser_id)
            stored = {_same(label, kept) for label, kept in conn.execute(mine)} if rows else set()
            for row in rows:
                if _same(row["label"], row["strokes"]) in stored:
                    ids.skipped += 1
                    continue
                ids.append(int(conn.execute(sa.insert(d).values(**row)).inserted_primary_key[0]))
        return ids

    def import_jsonl(
        self, path: str | os.PathLike, browser_id: str = IMPORT_BROWSER_ID, pen_width: float | None = None
    ) -> Imported:
        """Import a pendigits JSONL file as corrections; FeedbackImportError names every bad line."""
        path = Path(path)
        try:
            text = strokes_mod.decode_text(path.read_bytes())
        except OSError as exc:
            raise FeedbackImportError(str(path), [f"cannot read the file ({exc})"], whole_file=True) from exc
        except UnicodeDecodeError as exc:
            why = f"not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8"
            raise FeedbackImportError(str(path), [why], whole_file=True) from exc
        document = strokes_mod.json_document(text)  # one JSON document (a list of drawings), not lines
        lines = [json.dumps(x) for x in document] if document is not None else text.splitlines()
        lines = parse_jsonl(lines, source=str(path), pen_width=pen_width)
        return self.import_lines(lines, browser_id, pen_width)


class Imported(list):
    """The ids of the drawings an import stored (a list), and how many lines it skipped as stored
    already (`skipped`)."""

    skipped: int = 0


def _same(label: int, strokes: Any) -> tuple[int, str]:
    """What makes two stored drawings one: the label and the strokes, exactly."""
    return int(label), json.dumps(strokes)


def _drawing(row: Any, answers: list[ModelAnswer]) -> Drawing:
    created = row["created_at"]
    if created.tzinfo is None:  # SQLite keeps no zone; every time stored is UTC
        created = created.replace(tzinfo=UTC)
    return Drawing(
        id=int(row["id"]),
        browser_id=row["browser_id"],
        created_at=created,
        label=int(row["label"]),
        strokes=row["strokes"],
        image=np.frombuffer(row["input_image"], dtype="<f4").reshape(IMAGE_SHAPE).copy(),
        pen_width=row["pen_width"],
        source=row["source"],
        writer=row["writer"],
        answers=tuple(answers),
    )


# --------------------------------------------------------------------------- JSONL format


def to_jsonl_line(label: int, strokes: strokes_mod.Strokes, writer: int | None = None) -> str:
    """One pendigits JSONL line (compact, like pendigits' train.jsonl)."""
    record: dict[str, Any] = {"label": label}
    if writer is not None:
        record["writer"] = writer
    record["strokes"] = strokes
    return json.dumps(record, separators=(",", ":"), allow_nan=False)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_line(text: str) -> tuple[int, strokes_mod.Strokes, int | None]:
    """One JSONL line -> (label, strokes, writer); ValueError says what is wrong with it."""
    try:
        record = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise ValueError('not a JSON object like {"label": 4, "strokes": [[[x, y], ...]]}')
    unknown = sorted(set(record) - _LINE_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: label, strokes, writer")
    for key in ("label", "strokes"):
        if key not in record:
            raise ValueError(f'no "{key}"')
    writer = record.get("writer")
    if writer is not None and (isinstance(writer, bool) or not isinstance(writer, int)):
        raise ValueError(f'"writer" must be a whole number, got {strokes_mod.shown(writer)}')
    return _check_label(record["label"]), strokes_mod.validate_strokes(record["strokes"]), writer


def parse_jsonl(
    lines: Iterable[str], source: str = "<lines>", pen_width: float | None = None
) -> list[ImportLine]:
    """Validate every line and render it like a canvas drawing; raise FeedbackImportError listing
    every bad line (numbered from 1) so the file can be fixed in one go. Blank lines are skipped."""
    pen = strokes_mod.IMPORT_PEN if pen_width is None else pen_width
    good: list[ImportLine] = []
    errors: list[str] = []
    for lineno, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            label, strokes, writer = parse_line(text)
            drawing = strokes_mod.render_centred(strokes, pen)
            image = strokes_mod.model_input(drawing.pixels, drawing.paths)
        except ValueError as exc:
            errors.append(f"line {lineno}: {exc}")
            continue
        good.append(ImportLine(label, strokes, writer, image))
    if errors:
        raise FeedbackImportError(source, errors)
    if not good:
        raise FeedbackImportError(source, ["no drawings in the file"], whole_file=True)
    return good

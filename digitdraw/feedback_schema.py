"""The corrections database's tables, and the ordered migrations that build and upgrade them.

`metadata` is the schema the code queries (the latest version). A database records its version in
`schema_version`; `MIGRATIONS[n]` takes it from version n to n + 1. Each migration is frozen once
shipped: it writes the DDL of its own time, never today's tables, so an old database upgrades the
way a new one was built. A new database runs them all, so every migration runs in every test.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

metadata = sa.MetaData()

schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))

drawings = sa.Table(
    "drawings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("browser_id", sa.String(64), nullable=False),  # anonymous, one per browser
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),  # UTC
    sa.Column("label", sa.SmallInteger, nullable=False),  # 0-9, or 10: not a digit
    sa.Column("strokes", sa.JSON, nullable=False),  # pendigits format: [[[x, y], ...], ...]
    sa.Column("input_image", sa.LargeBinary, nullable=False),  # 28x28 float32, little-endian
    sa.Column("source", sa.String(16), nullable=False),  # "canvas" (px on the canvas) or "import"
    sa.Column("writer", sa.Integer, nullable=True),  # an imported line's "writer", kept for export
    sa.Column("pen_width", sa.Float, nullable=True),  # since v2; None for drawings saved before
    sa.CheckConstraint("label BETWEEN 0 AND 10", name="ck_drawings_label"),
)
sa.Index("ix_drawings_browser", drawings.c.browser_id, drawings.c.id)  # since v2: "My drawings"

answers = sa.Table(
    "answers",
    metadata,
    sa.Column("drawing_id", sa.Integer, sa.ForeignKey("drawings.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("answer", sa.SmallInteger, nullable=False),
    sa.Column("probabilities", sa.JSON, nullable=False),  # one per class, as the model gave them
)


def _v1(conn: sa.Connection) -> None:
    """Version 1: drawings (no pen width, no index by browser) and the models' answers."""
    v1 = sa.MetaData()
    sa.Table("schema_version", v1, sa.Column("version", sa.Integer, nullable=False))
    sa.Table(
        "drawings",
        v1,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("browser_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label", sa.SmallInteger, nullable=False),
        sa.Column("strokes", sa.JSON, nullable=False),
        sa.Column("input_image", sa.LargeBinary, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("writer", sa.Integer, nullable=True),
        sa.CheckConstraint("label BETWEEN 0 AND 10", name="ck_drawings_label"),
    )
    sa.Table(
        "answers",
        v1,
        sa.Column(
            "drawing_id", sa.Integer, sa.ForeignKey("drawings.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("answer", sa.SmallInteger, nullable=False),
        sa.Column("probabilities", sa.JSON, nullable=False),
    )
    v1.create_all(conn)
    conn.execute(sa.text("INSERT INTO schema_version (version) VALUES (0)"))


def _v2(conn: sa.Connection) -> None:
    """Version 2: the pen width of each drawing, and an index for one browser's drawings."""
    conn.execute(sa.text("ALTER TABLE drawings ADD COLUMN pen_width FLOAT"))
    conn.execute(sa.text("CREATE INDEX ix_drawings_browser ON drawings (browser_id, id)"))


MIGRATIONS: list[Callable[[sa.Connection], None]] = [_v1, _v2]
LATEST = len(MIGRATIONS)


def current_version(conn: sa.Connection) -> int:
    """The database's schema version; 0 for an empty database."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar_one() or 0)


def upgrade(conn: sa.Connection, target: int = LATEST) -> int:
    """Run the migrations from the database's version up to `target` in this transaction.

    Returns the version reached. The caller holds the transaction (and the lock that keeps two
    servers from migrating at once).
    """
    version = current_version(conn)
    for n in range(version, target):
        MIGRATIONS[n](conn)
        conn.execute(sa.update(schema_version).values(version=n + 1))
    return max(version, target)

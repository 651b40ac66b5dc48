"""The corrections store: what is saved comes back whole, on SQLite and on PostgreSQL, under load,
across a schema upgrade, through export and import; a database that cannot take a drawing says so.

PostgreSQL tests use $DIGITDRAW_TEST_PG_URL (.ci/run starts a throwaway cluster and sets it), each
test in a schema of its own. Without it they skip with the reason; in CI they fail.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from conftest import require

from digitdraw import feedback, strokes
from digitdraw import feedback_schema as schema
from digitdraw.feedback import FeedbackImportError, FeedbackStore, FeedbackStoreError, ModelAnswer

PG_ENV = "DIGITDRAW_TEST_PG_URL"
DATA = Path(__file__).resolve().parent / "data"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'feedback.sqlite3'}"


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    require(bool(base), f"no PostgreSQL to test against: set ${PG_ENV} (.ci/run starts one and sets it)")
    url = sa.make_url(base).set(drivername="postgresql+psycopg")
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    yield url.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def store(url):
    s = FeedbackStore(url)
    yield s
    s.close()


def image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((28, 28), dtype=np.float32)


def answers(label_dense: int, label_cnn: int) -> list[ModelAnswer]:
    def probs(top: int) -> list[float]:
        p = np.full(10, 0.02)
        p[top] = 0.82
        return p.tolist()

    return [
        ModelAnswer("dense", label_dense, probs(label_dense)),
        ModelAnswer("cnn", label_cnn, probs(label_cnn)),
    ]


SEVEN = [[[100, 100], [400, 100], [220, 450]]]
FOUR = [[[170.5, 50.25], [80, 170], [200.125, 170]], [[165, 110], [165, 240]]]


def canvas_drawings() -> list[strokes.Strokes]:
    """Strokes of the drawings recorded from the real canvas (tests/data)."""
    return [
        strokes.canvas_strokes(json.loads(p.read_text())["json_data"])
        for p in sorted(DATA.glob("canvas_*.json"))
    ]


# --------------------------------------------------------------------------- where the database is


def test_the_default_database_is_a_sqlite_file_in_the_user_data_folder(monkeypatch):
    monkeypatch.delenv(feedback.DB_URL_ENV, raising=False)
    url = sa.make_url(feedback.db_url())
    assert url.get_backend_name() == "sqlite"
    import platformdirs

    assert Path(url.database).parent == Path(platformdirs.user_data_dir("digitdraw"))


def test_the_environment_names_another_database_and_an_explicit_url_wins(monkeypatch, sqlite_url):
    monkeypatch.setenv(feedback.DB_URL_ENV, sqlite_url)
    assert feedback.db_url() == sqlite_url
    assert feedback.db_url("postgresql://host/db") == "postgresql://host/db"


def test_a_sqlite_database_is_created_with_its_folder_in_wal_mode(tmp_path):
    path = tmp_path / "new" / "folder" / "f.sqlite3"
    FeedbackStore(f"sqlite:///{path}").close()
    assert path.is_file()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --------------------------------------------------------------------------- schema


def test_a_new_database_has_the_schema_the_code_queries(store):
    assert store.schema_version == schema.LATEST
    inspector = sa.inspect(store.engine)
    for table in schema.metadata.sorted_tables:
        assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.c.keys())
    assert "ix_drawings_browser" in {i["name"] for i in inspector.get_indexes("drawings")}


def test_a_version_1_database_upgrades_without_losing_anything(url):
    # Build a database as version 1 of the app did, with drawings and answers in it.
    engine = sa.create_engine(sa.make_url(url).set(drivername=FeedbackStore(url).url.drivername))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS answers"))
        conn.execute(sa.text("DROP TABLE IF EXISTS drawings"))
        conn.execute(sa.text("DROP TABLE IF EXISTS schema_version"))
        assert schema.upgrade(conn, target=1) == 1
        assert "pen_width" not in {c["name"] for c in sa.inspect(conn).get_columns("drawings")}
        old = []
        for n, (label, strokes_) in enumerate([(7, SEVEN), (4, FOUR), (10, [[[5, 5]]])]):
            row = {
                "browser_id": "old-browser",
                "created_at": datetime(2026, 1, 2, 3, 4, n, tzinfo=UTC),
                "label": label,
                "strokes": json.dumps(strokes_),
                "input_image": image(n).astype("<f4").tobytes(),
                "source": "canvas",
                "writer": None,
            }
            did = conn.execute(
                sa.text(
                    "INSERT INTO drawings"
                    " (browser_id, created_at, label, strokes, input_image, source, writer)"
                    " VALUES (:browser_id, :created_at, :label, :strokes, :input_image, :source, :writer) "
                    "RETURNING id"
                ),
                row,
            ).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO answers (drawing_id, model, answer, probabilities) VALUES (:d, :m, :a, :p)"
                ),
                {"d": did, "m": "cnn", "a": 3, "p": json.dumps([0.1] * 10)},
            )
            old.append((did, row, strokes_))
    engine.dispose()

    store = FeedbackStore(url)  # opening it upgrades it
    assert store.schema_version == 2
    assert "ix_drawings_browser" in {i["name"] for i in sa.inspect(store.engine).get_indexes("drawings")}
    kept = {d.id: d for d in store.list_drawings("old-browser")}
    assert sorted(kept) == sorted(did for did, _, _ in old)
    for did, row, strokes_ in old:
        d = kept[did]
        assert (d.label, d.strokes, d.created_at) == (row["label"], strokes_, row["created_at"])
        assert d.image.tobytes() == row["input_image"]
        assert d.pen_width is None  # version 1 did not keep it
        assert d.answers == (ModelAnswer("cnn", 3, (0.1,) * 10),)
    new = store.save("old-browser", 1, SEVEN, image(9), pen_width=12.5)
    assert store.list_drawings("old-browser")[0].id == new
    assert store.list_drawings("old-browser")[0].pen_width == 12.5
    store.close()
    # Opening it again finds it current and changes nothing.
    again = FeedbackStore(url)
    assert again.count() == 4
    again.close()


def test_a_database_from_a_newer_app_is_refused(sqlite_url):
    FeedbackStore(sqlite_url).close()
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.update(schema.schema_version).values(version=schema.LATEST + 1))
    engine.dispose()
    with pytest.raises(FeedbackStoreError, match="newer than this app") as info:
        FeedbackStore(sqlite_url)
    assert info.value.reason == "schema"


# --------------------------------------------------------------------------- operations


def test_a_saved_drawing_comes_back_whole(store):
    before = datetime.now(UTC)
    did = store.save("browser-a", 4, FOUR, image(1), answers(4, 9), pen_width=18)
    (d,) = store.list_drawings("browser-a")
    assert d.id == did and d.browser_id == "browser-a" and d.label == 4
    assert d.strokes == FOUR
    assert d.image.dtype == np.float32 and np.array_equal(d.image, image(1))
    assert d.pen_width == 18 and d.source == "canvas" and d.writer is None
    assert before - timedelta(seconds=1) <= d.created_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert d.created_at.tzinfo is not None
    by_model = {a.model: a for a in d.answers}
    assert (by_model["dense"].answer, by_model["cnn"].answer) == (4, 9)
    assert by_model["cnn"].probabilities == tuple(answers(4, 9)[1].probabilities)


def test_each_browser_sees_its_own_drawings_newest_first(store):
    a1 = store.save("browser-a", 7, SEVEN, image(1), answers(7, 7))
    b1 = store.save("browser-b", 4, FOUR, image(2), answers(4, 4))
    a2 = store.save("browser-a", 10, [[[1, 1]]], image(3), answers(1, 1))
    assert [d.id for d in store.list_drawings("browser-a")] == [a2, a1]
    assert [d.id for d in store.list_drawings("browser-b")] == [b1]
    assert [d.id for d in store.list_drawings(None)] == [a2, b1, a1]
    assert store.list_drawings("browser-c") == []
    assert [d.id for d in store.list_drawings("browser-a", limit=1)] == [a2]


def test_the_wrong_filter_keeps_drawings_a_model_got_wrong(store):
    right = store.save("b", 7, SEVEN, image(1), answers(7, 7))
    one_wrong = store.save("b", 4, FOUR, image(2), answers(4, 9))
    not_digit = store.save("b", feedback.NOT_A_DIGIT, [[[1, 1]]], image(3), answers(1, 1))
    no_answers = store.save("b", 3, SEVEN, image(4))
    assert [d.id for d in store.list_drawings("b", "wrong")] == [not_digit, one_wrong]
    assert {d.id for d in store.list_drawings("b", "all")} == {right, one_wrong, not_digit, no_answers}
    assert not store.list_drawings("b")[-1].wrong


def test_running_accuracy_per_model(store):
    store.save("b", 7, SEVEN, image(1), answers(7, 7))
    store.save("b", 4, FOUR, image(2), answers(4, 9))
    store.save("b", 1, SEVEN, image(3), answers(2, 1))
    store.save("other", 5, SEVEN, image(4), answers(3, 3))
    got = {a.model: (a.correct, a.total) for a in store.accuracy("b")}
    assert got == {"cnn": (2, 3), "dense": (2, 3)}
    assert {a.model: (a.correct, a.total) for a in store.accuracy()} == {"cnn": (2, 4), "dense": (2, 4)}
    assert store.accuracy("nobody") == []
    assert store.accuracy("b")[0].accuracy == pytest.approx(2 / 3)


def test_delete_removes_only_this_browsers_drawing_and_its_answers(store):
    mine = store.save("mine", 7, SEVEN, image(1), answers(7, 7))
    theirs = store.save("theirs", 4, FOUR, image(2), answers(4, 4))
    assert store.delete(theirs, "mine") is False
    assert store.count() == 2
    assert store.delete(mine, "mine") is True
    assert store.delete(mine, "mine") is False
    assert [d.id for d in store.list_drawings(None)] == [theirs]
    with store.engine.connect() as conn:
        left = conn.execute(sa.select(schema.answers.c.drawing_id)).scalars().all()
    assert set(left) == {theirs}
    assert {a.model: a.total for a in store.accuracy()} == {"cnn": 1, "dense": 1}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": 11}, "label must be a digit 0-9 or 10"),
        ({"label": True}, r"label must be a digit 0-9 or 10 \(not a digit\), got true"),
        ({"label": "4"}, "label must be"),
        ({"strokes": []}, "non-empty list of strokes"),
        ({"strokes": [[[1, "2"]]]}, r"stroke 1, point 1"),
        ({"image": np.zeros((28, 27))}, "28, 28"),
        ({"image": np.full((28, 28), np.nan)}, "finite"),
        ({"browser_id": "has space"}, "browser id"),
        ({"browser_id": ""}, "browser id"),
        ({"answers": [ModelAnswer("cnn", 1, [0.1] * 10)] * 2}, "once"),
        ({"answers": [ModelAnswer("cnn", 1, [0.1] * 9)]}, "10 or 11"),
        ({"answers": [ModelAnswer("cnn", 12, [0.1] * 10)]}, "label must be"),
        ({"answers": [ModelAnswer("", 1, [0.1] * 10)]}, "model name"),
        ({"pen_width": -3}, "pen width"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(sqlite_url, change, message):
    store = FeedbackStore(sqlite_url)
    args = {"browser_id": "b", "label": 4, "strokes": FOUR, "image": image(1), "answers": answers(4, 4)}
    pen = change.pop("pen_width", 18)
    args.update(change)
    with pytest.raises(ValueError, match=message):
        store.save(pen_width=pen, **args)
    assert store.count() == 0


# --------------------------------------------------------------------------- many at once


def test_eight_servers_saving_fifty_drawings_each_at_once_lose_nothing(url):
    # Each thread opens its own store, as separate app servers would, all at once on a new
    # database (so they also race to create the schema).
    threads, per_thread = 8, 50
    start = threading.Barrier(threads)
    failures: list[BaseException] = []

    def work(t: int) -> None:
        try:
            start.wait()
            # A generous lock wait: this is about losing nothing, and a loaded CI machine can keep
            # eight writers queued past the app's 5 s (a user would get "busy, try again").
            s = FeedbackStore(url, busy_timeout=60)
            for i in range(per_thread):
                s.save(
                    f"thread-{t}", (t + i) % 10, [[[t, i], [i, t]]], image(t * 1000 + i), answers(i % 10, t)
                )
            s.close()
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert failures == []
    store = FeedbackStore(url)
    assert store.count() == threads * per_thread
    for t in range(threads):
        saved = sorted(store.list_drawings(f"thread-{t}"), key=lambda d: d.strokes[0][0][1])
        assert [d.strokes for d in saved] == [[[[t, i], [i, t]]] for i in range(per_thread)]
        assert [d.label for d in saved] == [(t + i) % 10 for i in range(per_thread)]
        assert all(np.array_equal(d.image, image(t * 1000 + i)) for i, d in enumerate(saved))
        assert all(len(d.answers) == 2 for d in saved)
    assert {a.model: a.total for a in store.accuracy()} == {"cnn": 400, "dense": 400}
    store.close()


# --------------------------------------------------------------------------- when the database cannot


def read_only_url(url: str) -> str:
    """The same database, opened read-only (SQLite's mode=ro; PostgreSQL's read-only transactions)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    options = parsed.query.get("options", "")
    return parsed.update_query_dict(
        {"options": f"{options} -cdefault_transaction_read_only=on".strip()}
    ).render_as_string(hide_password=False)


def test_a_read_only_database_can_be_read_but_says_it_cannot_save(url):
    FeedbackStore(url).save("b", 7, SEVEN, image(1), answers(7, 7))
    reader = FeedbackStore(read_only_url(url))
    assert [d.label for d in reader.list_drawings("b")] == [7]
    with pytest.raises(FeedbackStoreError, match="read-only") as info:
        reader.save("b", 4, FOUR, image(2), answers(4, 4))
    assert info.value.reason == "read-only"
    assert reader.count() == 1


def test_a_locked_database_says_it_is_busy_and_the_same_save_works_once_free(url):
    store = FeedbackStore(url, busy_timeout=0.2)
    store.save("b", 7, SEVEN, image(1))
    if store.is_sqlite:
        holder = sqlite3.connect(sa.make_url(url).database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        release = holder.rollback
    else:
        engine = sa.create_engine(store.url)
        conn = engine.connect()
        conn.begin()
        conn.execute(sa.text("LOCK TABLE drawings IN ACCESS EXCLUSIVE MODE"))
        release = conn.rollback
    try:
        with pytest.raises(FeedbackStoreError, match="busy") as info:
            store.save("b", 4, FOUR, image(2), answers(4, 4))
        assert info.value.reason == "busy"
    finally:
        release()
    store.save("b", 4, FOUR, image(2), answers(4, 4))  # the retry the user clicks
    assert [d.label for d in store.list_drawings("b")] == [4, 7]


def test_a_full_database_says_it_is_full_and_keeps_what_it_had(sqlite_url):
    store = FeedbackStore(sqlite_url)
    store.save("b", 7, SEVEN, image(1))

    @sa.event.listens_for(store.engine, "connect")
    def _no_more_pages(dbapi_conn, _record):  # a disk with no room left, as SQLite sees it
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    store.engine.dispose()
    with pytest.raises(FeedbackStoreError, match="full") as info:
        for n in range(50):
            store.save("b", 4, FOUR, image(n + 2))
    assert info.value.reason == "full"
    kept = store.list_drawings("b")
    assert kept[-1].label == 7 and len(kept) == store.count()


def test_a_database_out_of_reach_says_so(tmp_path):
    with pytest.raises(FeedbackStoreError, match="not a database URL"):
        FeedbackStore("no such thing")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(FeedbackStoreError) as info:
        FeedbackStore(f"sqlite:///{blocker / 'feedback.sqlite3'}")
    assert info.value.reason == "unavailable"
    with pytest.raises(FeedbackStoreError, match="Could not use") as info:
        FeedbackStore("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value)  # the message never shows a password


# --------------------------------------------------------------------------- export and import


def export(store: FeedbackStore, browser_id: str | None = None) -> str:
    out = io.StringIO()
    store.export_jsonl(out, browser_id)
    return out.getvalue()


def test_every_saved_drawing_exports_and_reimports_bit_identical(url, tmp_path):
    store = FeedbackStore(url)
    originals = []
    for n, drawn in enumerate(canvas_drawings()):
        store.save("canvas-browser", n, drawn, image(n), answers(n, n), pen_width=18)
        originals.append((n, drawn, None))
    lines = [
        feedback.to_jsonl_line(7, SEVEN, 3),
        feedback.to_jsonl_line(4, FOUR),
        feedback.to_jsonl_line(feedback.NOT_A_DIGIT, [[[0.1, 1e-7], [1e5, 2.5]]], 0),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    store.import_jsonl(tmp_path / "in.jsonl")
    originals += [(7, SEVEN, 3), (4, FOUR, None), (10, [[[0.1, 1e-7], [1e5, 2.5]]], 0)]

    first = export(store)
    exported = [json.loads(line) for line in first.splitlines()]
    assert [(r["label"], r["strokes"], r.get("writer")) for r in exported] == originals
    (tmp_path / "out.jsonl").write_text(first)

    again = FeedbackStore(f"sqlite:///{tmp_path / 'again.sqlite3'}")
    again.import_jsonl(tmp_path / "out.jsonl")
    assert export(again) == first  # byte for byte
    reloaded = sorted(again.list_drawings(None), key=lambda d: d.id)
    assert [(d.label, d.strokes, d.writer) for d in reloaded] == originals
    # Number types survive too: ints stay ints, floats stay floats.
    assert [type(v) for d in reloaded for s in d.strokes for p in s for v in p] == [
        type(v) for _, s_, _ in originals for s in s_ for p in s for v in p
    ]


def test_the_real_pendigits_file_round_trips(pendigits_file, tmp_path):
    head = pendigits_file.read_text(encoding="utf-8").splitlines()[:150]
    sample = tmp_path / "sample.jsonl"
    sample.write_text("\n".join(head) + "\n")
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    assert len(store.import_jsonl(sample)) == len(head)
    back = export(store).splitlines()
    assert [json.loads(line) for line in back] == [json.loads(line) for line in head]


def test_importing_a_file_twice_stores_it_once(sqlite_url, tmp_path):
    # Twins of one drawing on both sides of the fine-tune's held-out split made its figure meaningless.
    lines = [feedback.to_jsonl_line(7, SEVEN, 3), feedback.to_jsonl_line(4, FOUR)]
    (tmp_path / "two.jsonl").write_text("\n".join(lines) + "\n")
    store = FeedbackStore(sqlite_url)
    first = store.import_jsonl(tmp_path / "two.jsonl", browser_id="someone")
    again = store.import_jsonl(tmp_path / "two.jsonl", browser_id="someone")
    assert (len(first), first.skipped, len(again), again.skipped) == (2, 0, 0, 2)
    assert sorted(d.label for d in store.list_drawings("someone")) == [4, 7]
    # Another browser's corrections are its own: the same file stores for it too.
    assert len(store.import_jsonl(tmp_path / "two.jsonl", browser_id="another")) == 2
    # A file that repeats a drawing on purpose keeps its repeats, the first time.
    (tmp_path / "thrice.jsonl").write_text((feedback.to_jsonl_line(1, SEVEN) + "\n") * 3)
    assert len(store.import_jsonl(tmp_path / "thrice.jsonl", browser_id="someone")) == 3


def test_an_import_takes_one_json_document_too_as_predict_strokes_does(sqlite_url, tmp_path):
    lines = [
        json.loads(feedback.to_jsonl_line(7, SEVEN, 12)),
        json.loads(feedback.to_jsonl_line(4, SEVEN, 3)),
    ]
    (tmp_path / "two.json").write_text(json.dumps(lines, indent=2))
    store = FeedbackStore(sqlite_url)
    assert len(store.import_jsonl(tmp_path / "two.json")) == 2
    assert [json.loads(line) for line in export(store).splitlines()] == lines


def test_an_import_renders_each_line_like_a_canvas_drawing(sqlite_url, tmp_path):
    (tmp_path / "seven.jsonl").write_text(feedback.to_jsonl_line(7, SEVEN, 12) + "\n")
    store = FeedbackStore(sqlite_url)
    (did,) = store.import_jsonl(tmp_path / "seven.jsonl", browser_id="someone")
    (d,) = store.list_drawings("someone")
    assert d.id == did and d.source == "import" and d.writer == 12 and d.answers == ()
    assert d.pen_width == strokes.IMPORT_PEN
    drawing = strokes.render_centred(SEVEN, strokes.IMPORT_PEN)  # read like a canvas drawing, strokes and all
    assert np.array_equal(d.image, strokes.model_input(drawing.pixels, drawing.paths))


def test_an_import_saved_with_a_byte_order_mark_reads_like_any_other(sqlite_url, tmp_path):
    # Some Windows editors start a UTF-8 file with a byte-order mark.
    line = feedback.to_jsonl_line(7, SEVEN) + "\n"
    (tmp_path / "seven.jsonl").write_bytes(b"\xef\xbb\xbf" + line.encode())
    store = FeedbackStore(sqlite_url)
    store.import_jsonl(tmp_path / "seven.jsonl", browser_id="someone")
    assert [d.label for d in store.list_drawings("someone")] == [7]


def test_a_bad_import_names_every_bad_line_and_stores_nothing(sqlite_url, tmp_path):
    good = feedback.to_jsonl_line(7, SEVEN)
    lines = [
        good,
        "{not json",
        json.dumps({"label": 12, "strokes": SEVEN}),
        json.dumps({"strokes": SEVEN}),
        json.dumps({"label": 3, "strokes": [[[1, "2"]]]}),
        '{"label": 3, "strokes": [[[NaN, 2]]]}',
        json.dumps({"label": 3, "strokes": SEVEN, "lable": 4}),
        json.dumps({"label": 3, "strokes": SEVEN, "writer": "ann"}),
        json.dumps([3, SEVEN]),
        "",
        good,
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    store = FeedbackStore(sqlite_url)
    with pytest.raises(FeedbackImportError) as info:
        store.import_jsonl(path)
    errors = info.value.errors
    assert [e.split(":")[0] for e in errors] == [f"line {n}" for n in range(2, 10)]
    assert "not JSON" in errors[0]
    assert "label must be a digit 0-9 or 10" in errors[1]
    assert 'no "label"' in errors[2]
    assert "stroke 1, point 1" in errors[3]
    assert "not a number JSON allows" in errors[4]
    assert "unknown key(s) 'lable'" in errors[5]
    # Values are shown as the file wrote them (JSON), not as Python would ('ann', True, None).
    assert errors[6].endswith('"writer" must be a whole number, got "ann"')
    assert errors[3].endswith('got [1, "2"]')
    assert "not a JSON object" in errors[7]
    assert str(path) in str(info.value)
    assert store.count() == 0


def test_an_import_of_an_empty_or_missing_file_says_so(sqlite_url, tmp_path):
    store = FeedbackStore(sqlite_url)
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(FeedbackImportError, match="no drawings"):
        store.import_jsonl(tmp_path / "empty.jsonl")
    with pytest.raises(FeedbackImportError, match="cannot read the file") as missing:
        store.import_jsonl(tmp_path / "missing.jsonl")
    # The file itself is the problem, not one of its lines.
    assert "bad line" not in str(missing.value) and str(missing.value).endswith("nothing imported.")

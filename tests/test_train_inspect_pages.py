"""The Train and Inspect pages, rendered headless with Streamlit's AppTest.

Each page runs alone (AppTest.from_function) so these tests do not depend on the Draw page.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from digitdraw import config, feedback, jobs, modelio
from digitdraw.feedback import NOT_A_DIGIT, FeedbackStore
from digitdraw.finetune import FinetuneSettings
from digitdraw.recipe import TrainConfig
from digitdraw.ui import corrections, inspect_page, train_page

TIMEOUT = 120


# AppTest.from_function runs a function's source as a script: its imports must be inside it.
def train_app():
    from digitdraw.ui import train_page

    train_page.page()


def inspect_app():
    from digitdraw.ui import inspect_page

    inspect_page.page()


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "success", "warning", "error", "title", "subheader")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


@pytest.fixture(autouse=True)
def _no_password(monkeypatch):
    monkeypatch.delenv(config.TRAINING_PASSWORD_ENV, raising=False)
    monkeypatch.setattr(config, "TRAINING_ENABLED", True)


@pytest.fixture
def idle_jobs():
    """The server's job registry, fresh, so no run from another test shows up here."""
    train_page.server_jobs.clear()
    yield train_page.server_jobs()
    train_page.server_jobs.clear()


# -- Train page -------------------------------------------------------------------------------


def test_train_page_offers_every_architecture_api_and_recipe(idle_jobs):
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    assert not at.exception
    arch = at.selectbox(key="train_arch")
    assert arch.options and all(name in " ".join(arch.options) for name in ("dense", "cnn"))
    assert at.radio(key="train_api").options == ["Sequential", "Functional"]
    assert at.radio(key="train_recipe").options == ["Quick", "Standard", "Custom"]
    assert "Start training" in [b.label for b in at.button]

    at.radio(key="train_recipe").set_value("custom").run()
    epochs = at.number_input(key="train_epochs")
    assert epochs.max == config.MAX_EPOCHS  # the page cannot ask for more than the server allows
    assert at.toggle(key="train_augment") is not None


def test_the_caption_describes_the_architecture_the_recipe_trains(idle_jobs):
    from digitdraw import architectures, recipe

    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    at.selectbox(key="train_arch").set_value("cnn").run()
    at.radio(key="train_recipe").set_value("quick").run()
    trained = recipe.preset("quick", "cnn").architecture  # the lighter cnn_quick
    assert trained != "cnn"
    assert architectures.DESCRIPTIONS[trained] in texts(at)
    assert architectures.DESCRIPTIONS["cnn"] not in texts(at)
    at.radio(key="train_recipe").set_value("custom").run()  # your own recipe trains what you picked
    assert architectures.DESCRIPTIONS["cnn"] in texts(at)


@pytest.mark.parametrize(("gpus", "offered"), [(0, False), (1, False), (2, True)])
def test_train_on_all_gpus_is_offered_only_with_more_than_one(idle_jobs, monkeypatch, gpus, offered):
    monkeypatch.setattr(jobs, "gpu_count", lambda: gpus)
    started = []
    monkeypatch.setattr(jobs.TrainingJobs, "start", lambda self, cfg, **kw: started.append(cfg))
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    at.radio(key="train_recipe").set_value("custom").run()
    toggles = [t.key for t in at.toggle]
    assert ("train_distribute" in toggles) is offered
    if offered:
        at.toggle(key="train_distribute").set_value(True).run()
    if not jobs.mnist_problem():
        at.button(key="train_start").click().run()
        assert [cfg.distribute for cfg in started] == [offered]


@pytest.mark.parametrize(
    ("variable", "value"), [("DIGITDRAW_MAX_EPOCHS", "abc"), ("DIGITDRAW_MAX_TRAIN_SECONDS", "0")]
)
def test_an_unusable_limit_is_a_message_and_start_is_disabled(idle_jobs, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any(f"${variable}='{value}'" in e.value for e in at.error)
    assert at.button(key="train_start").disabled


def test_standard_recipe_adds_pen_drawn_digits_when_the_file_is_here(idle_jobs, monkeypatch, tmp_path):
    pen = tmp_path / "train.jsonl"
    pen.write_text('{"label": 1, "writer": 1, "strokes": [[[0, 0], [0, 50]]]}\n')
    monkeypatch.setenv(config.PENDIGITS_ENV, str(pen))
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    assert not at.toggle(key="train_pen_quick").value  # quick: MNIST alone, for speed
    at.radio(key="train_recipe").set_value("standard").run()
    toggle = at.toggle(key="train_pen_standard")
    assert toggle.value and not toggle.disabled


def test_without_the_pendigits_file_the_page_says_so_and_trains_on_mnist(idle_jobs, monkeypatch, tmp_path):
    monkeypatch.setenv(config.PENDIGITS_ENV, str(tmp_path / "absent.jsonl"))
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    at.radio(key="train_recipe").set_value("standard").run()
    toggle = at.toggle(key="train_pen_standard")
    assert toggle.disabled and not toggle.value
    assert "No pendigits file on this server" in texts(at)


def test_training_switched_off_shows_a_message_and_no_controls(monkeypatch, idle_jobs):
    monkeypatch.setattr(config, "TRAINING_ENABLED", False)
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    assert "Training is switched off" in texts(at)
    assert not at.button and not at.selectbox


def test_password_gate_from_the_environment(monkeypatch, idle_jobs):
    monkeypatch.setenv(config.TRAINING_PASSWORD_ENV, "s3cret")
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    assert "protected" in texts(at) and not at.selectbox
    at.text_input(key="train_password").input("wrong")
    at.button[0].click().run()
    assert "Wrong password" in texts(at) and not at.selectbox
    at.text_input(key="train_password").input("s3cret")
    at.button[0].click().run()
    assert at.selectbox(key="train_arch") is not None
    assert "Wrong password" not in texts(at)


def test_password_gate_from_st_secrets(idle_jobs):
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT)
    at.secrets["training_password"] = "from-secrets"
    at.run()
    assert not at.selectbox
    at.text_input(key="train_password").input("from-secrets")
    at.button[0].click().run()
    assert at.selectbox(key="train_arch") is not None


def running_job(owner: str | None, epochs: int = 3) -> jobs.TrainingJob:
    """A run that never reports (no process behind it): the page shows it as preparing."""
    return jobs.TrainingJob(jobs.checked_config(TrainConfig("dense", epochs=epochs)), "t", owner=owner)


def session(owner: str) -> AppTest:
    """A Train page session whose id is `owner` (the page otherwise makes up a fresh one)."""
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT)
    at.session_state[train_page.OWNER_KEY] = owner
    return at.run()


def test_the_form_says_what_start_will_run_with_the_values_it_took(idle_jobs):
    # A value typed outside a field's range is refused in the browser, and the field keeps its
    # last good one: the line above Start names what will really run.
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    at.radio(key="train_recipe").set_value("custom").run()
    at.number_input(key="train_epochs").set_value(2).run()
    at.number_input(key="train_budget").set_value(120).run()
    line = next(c.value for c in at.caption if c.value.startswith("This run:"))
    assert "2 epochs" in line and "time limit 120 s" in line


def test_the_owner_of_a_run_sees_its_progress_and_can_cancel_it(idle_jobs, monkeypatch):
    job = running_job(owner="me")
    monkeypatch.setattr(idle_jobs, "_job", job)
    at = session("me")
    assert not at.exception
    assert "Training dense (sequential)" in texts(at)
    assert "another visitor" not in texts(at)
    assert [b.label for b in at.button] == ["Cancel"]
    assert not at.selectbox  # no second Start
    at.button(key="train_cancel").click().run()
    assert job.cancel_event.is_set()
    assert "Cancelling after the current batch" in texts(at)


def test_while_the_model_is_being_saved_cancel_is_not_offered_and_a_late_cancel_is_reported(
    idle_jobs, monkeypatch
):
    # A cancel asked for while saving once said "Cancelling…", and then the model was saved.
    job = running_job(owner="me")
    job._set(phase=jobs.SAVING)
    monkeypatch.setattr(idle_jobs, "_job", job)
    at = session("me")
    assert not at.button and "too late to cancel" in texts(at)
    job.cancel_event.set()  # asked for just before the page caught up with the saving phase
    job._end_message = {
        "status": jobs.FINISHED,
        "model_path": "m.keras",
        "test_accuracy": 0.9,
        "drawn_accuracy": None,
    }
    jobs._finish(job, stopped=None)
    assert job.snapshot().status == jobs.FINISHED
    assert any("too late" in note for note in job.snapshot().notes)


def test_another_visitor_sees_the_run_keeps_their_form_and_cannot_start_or_cancel(idle_jobs, monkeypatch):
    job = running_job(owner="first visitor")
    monkeypatch.setattr(idle_jobs, "_job", job)
    at = session("second visitor")
    assert not at.exception
    shown = texts(at)
    assert "A run started by another visitor is in progress" in shown
    assert "Training dense (sequential)" in shown  # with its progress
    assert "Cancel" not in [b.label for b in at.button]
    start = at.button(key="train_start")
    assert start.disabled and "Another visitor's run is in progress" in shown

    # Their own form stays theirs while they wait, and Start comes back once the run ends.
    at.selectbox(key="train_arch").set_value("dense").run()
    at.radio(key="train_recipe").set_value("custom").run()
    assert at.button(key="train_start").disabled
    job._set(status=jobs.CANCELLED, phase=jobs.DONE)
    at.run()
    assert not at.button(key="train_start").disabled
    assert at.selectbox(key="train_arch").value == "dense" and at.radio(key="train_recipe").value == "custom"
    assert not job.cancel_event.is_set()


def test_the_owner_finds_their_form_as_they_left_it_when_their_run_ends(idle_jobs, monkeypatch):
    at = session("me")
    at.selectbox(key="train_arch").set_value("dense").run()
    at.radio(key="train_recipe").set_value("custom").run()
    at.number_input(key="train_epochs").set_value(4).run()
    job = running_job(owner="me")
    monkeypatch.setattr(idle_jobs, "_job", job)
    at.run()
    assert not at.selectbox  # the run's progress, no form
    job._set(status=jobs.CANCELLED, phase=jobs.DONE)
    at.run()
    assert not at.exception
    assert at.selectbox(key="train_arch").value == "dense"
    assert at.radio(key="train_recipe").value == "custom"
    assert at.number_input(key="train_epochs").value == 4
    assert not at.warning, [w.value for w in at.warning]  # no "set via the Session State API" warning


def test_only_the_owner_or_an_operator_may_cancel_through_the_registry(idle_jobs, monkeypatch):
    job = running_job(owner="first visitor")
    monkeypatch.setattr(idle_jobs, "_job", job)
    with pytest.raises(jobs.NotOwner, match="Only the visitor who started this run"):
        idle_jobs.cancel("second visitor")
    assert not job.cancel_event.is_set()
    assert idle_jobs.cancel("second visitor", operator=True) and job.cancel_event.is_set()


def test_a_session_unlocked_with_the_operator_password_can_cancel_anyones_run(idle_jobs, monkeypatch):
    monkeypatch.setenv(config.TRAINING_PASSWORD_ENV, "s3cret")
    job = running_job(owner="first visitor")
    monkeypatch.setattr(idle_jobs, "_job", job)
    at = session("operator")
    at.text_input(key="train_password").input("s3cret")
    at.button[0].click().run()
    assert "A run started by another visitor is in progress" in texts(at)
    at.button(key="train_cancel").click().run()
    assert job.cancel_event.is_set()
    assert "Cancelling after the current batch" in texts(at)


def test_without_mnist_the_page_says_how_to_get_it_and_start_is_disabled(idle_jobs, monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "no-mnist-here"))
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    assert not at.exception
    warning = at.warning[0].value
    assert "Training needs the MNIST data set" in warning and "no-mnist-here" in warning
    assert config.DATA_DIR_ENV in warning
    assert at.button(key="train_start").disabled


def test_the_servers_run_survives_streamlit_re_importing_the_modules(idle_jobs, monkeypatch):
    # Streamlit's file watcher drops the project's modules from sys.modules when a source file
    # changes; the next page run imports them afresh and must still see (and guard) the run.
    job = running_job(owner="me", epochs=1)
    monkeypatch.setattr(idle_jobs, "_job", job)
    for name in [m for m in sys.modules if m.startswith("digitdraw")]:
        monkeypatch.delitem(sys.modules, name)  # put back as they were after the test
    fresh_page = importlib.import_module("digitdraw.ui.train_page")
    fresh_jobs = importlib.import_module("digitdraw.jobs")
    assert fresh_page is not train_page and fresh_jobs is not jobs
    assert fresh_page.server_jobs() is idle_jobs and idle_jobs.current() is job
    with pytest.raises(jobs.JobBusy):
        fresh_page.server_jobs().start(fresh_jobs.checked_config(TrainConfig("dense", epochs=1)))
    # And a page run after the reload shows the run to its owner, not a second Start...
    at = session("me")
    assert "Training dense (sequential)" in texts(at) and not at.selectbox
    # ...and to anyone else with Start disabled.
    at = session("someone else")
    assert "Training dense (sequential)" in texts(at) and at.button(key="train_start").disabled


def test_a_finished_run_shows_its_accuracies_and_points_to_the_draw_page(idle_jobs, monkeypatch, tmp_path):
    job = jobs.TrainingJob(jobs.checked_config(TrainConfig("cnn", epochs=1)), "t")
    job._set(
        status=jobs.FINISHED,
        phase=jobs.DONE,
        model_path=tmp_path / "cnn-20261122-120000.keras",
        test_accuracy=0.9712,
        drawn_accuracy=0.8125,
    )
    monkeypatch.setattr(idle_jobs, "_job", job)
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT).run()
    message = at.success[0].value
    assert "cnn-20261122-120000" in message and "97.12%" in message and "81.25%" in message
    assert "Draw" in message
    assert at.selectbox(key="train_arch") is not None  # and a new run can be set up


def test_a_failed_run_shows_its_message(idle_jobs, monkeypatch):
    job = jobs.TrainingJob(jobs.checked_config(TrainConfig("cnn", epochs=1)), "t", owner="me")
    job._set(status=jobs.FAILED, phase=jobs.DONE, error="DataError: MNIST data folder /x does not exist.")
    monkeypatch.setattr(idle_jobs, "_job", job)
    at = session("me")
    assert "failed: DataError: MNIST data folder /x does not exist." in at.error[0].value


# -- Fine-tune on my drawings -----------------------------------------------------------------


def save_corrections(browser: str, labels) -> None:
    """`browser`'s corrections in the server's database, as the Draw page saves."""
    store = FeedbackStore(feedback.db_url())
    for label in labels:
        store.save(browser, label, [[[250.0, 50.0], [250.0, 450.0]]], np.zeros((28, 28), np.float32))
    store.close()


def browser_session(browser: str) -> AppTest:
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT)
    at.session_state[corrections.BROWSER_KEY] = browser
    return at.run()


def test_finetune_counts_this_browsers_corrections_and_needs_the_minimum(idle_jobs):
    need = FinetuneSettings().min_corrections
    me, other = feedback.new_browser_id(), feedback.new_browser_id()
    save_corrections(me, [4, 7, NOT_A_DIGIT])
    save_corrections(other, [1] * need)  # someone else's do not count
    at = browser_session(me)
    assert not at.exception
    shown = texts(at)
    assert "Fine-tune on my drawings" in shown
    assert "This browser has saved **3** corrections (1 of them 'not a digit'" in shown
    start = at.button(key="finetune_start")
    assert start.disabled
    assert f"{need - 2} more needed: a fine-tune needs at least {need} corrections" in shown
    # Only models that work are offered as a base; the cnn first, as on the rest of the page.
    base = at.selectbox(key="finetune_base")
    assert base.value == "cnn" and "dense" in base.options[0] + base.options[1]

    save_corrections(me, [d % 10 for d in range(need - 2)])
    at.run()
    assert "This browser has saved **" in texts(at) and "more needed" not in texts(at)
    assert not at.button(key="finetune_start").disabled


def test_finetune_says_how_many_corrections_it_will_hold_out_to_measure_and_when_none(idle_jobs):
    # It promised "about 20% kept out" and then, with two of each digit, held out none.
    me = feedback.new_browser_id()
    save_corrections(me, [d for d in range(5) for _ in range(2)])  # two of each: too few to spare one
    at = browser_session(me)
    assert "None can be kept out to measure the new model on yet: that takes 3 or more" in texts(at)
    save_corrections(me, [0, 1, 2, 3, 4] * 3)  # five of each: one of each is kept out
    at.run()
    assert "5 of them will be kept out of training, to measure the new model on." in texts(at)


def test_with_nothing_to_hold_out_the_finetune_form_says_all_corrections_train():
    # A share of 0 is a valid setting (FinetuneSettings); the note once raised StopIteration.
    note = train_page._held_out_note([0, 1, 2] * 4, 0.0)
    assert note.startswith("All of them will be used for training")


def test_finetune_start_is_disabled_while_another_visitors_run_is_in_progress(idle_jobs, monkeypatch):
    me = feedback.new_browser_id()
    save_corrections(me, [d % 10 for d in range(FinetuneSettings().min_corrections)])
    monkeypatch.setattr(idle_jobs, "_job", running_job(owner="first visitor"))
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT)
    at.session_state[corrections.BROWSER_KEY] = me
    at.session_state[train_page.OWNER_KEY] = "second visitor"
    at.run()
    assert at.button(key="finetune_start").disabled
    assert "Another visitor's run is in progress" in texts(at)


def test_a_running_finetune_shows_its_base_and_progress_to_its_owner(idle_jobs, monkeypatch):
    cfg = jobs.checked_finetune(jobs.FinetuneConfig("cnn", feedback.new_browser_id()))
    monkeypatch.setattr(idle_jobs, "_job", jobs.TrainingJob(cfg, "t", owner="me"))
    at = session("me")
    assert not at.exception
    shown = texts(at)
    assert "Fine-tuning cnn on your corrections" in shown
    assert f"each correction drawn {FinetuneSettings().copies} times" in shown
    assert [b.label for b in at.button] == ["Cancel"]


def test_a_finished_finetune_shows_the_new_model_and_the_figures_from_its_card(
    idle_jobs, monkeypatch, tmp_path
):
    path = tmp_path / "cnn-mine-20261125-201500.keras"
    card = {
        "base_model": {"name": "cnn", "test_accuracy": 0.995},
        "test_accuracy": 0.994,
        "corrections": {
            "trained_on": 40,
            "held_out": 10,
            "held_out_accuracy_before": 0.6,
            "held_out_accuracy_after": 0.9,
        },
    }
    modelio.write_json(modelio.card_path(path), card)
    cfg = jobs.checked_finetune(jobs.FinetuneConfig("cnn", feedback.new_browser_id()))
    job = jobs.TrainingJob(cfg, "t", owner="me")
    job._set(status=jobs.FINISHED, phase=jobs.DONE, model_path=str(path), test_accuracy=0.994)
    monkeypatch.setattr(idle_jobs, "_job", job)
    at = session("me")
    message = at.success[0].value
    assert "cnn\\-mine\\-20261125\\-201500" in message  # the name, escaped for Markdown
    assert "fine-tune of cnn" in message and "Draw" in message
    assert "held-out corrections (10): 60% → 90%; MNIST 99.5% → 99.4%" in message
    assert "Trained on 40 corrections" in message

    # Another visitor is not shown someone else's corrections and figures as theirs.
    other = session("someone else")
    assert not other.exception
    assert not any("is ready" in m.value for m in other.success)
    assert "held-out corrections" not in texts(other)


@pytest.mark.parametrize("status", [jobs.CANCELLED, jobs.FAILED])
def test_another_visitors_cancelled_or_failed_run_is_not_shown_as_the_last_run(
    idle_jobs, monkeypatch, status
):
    # A first-time visitor read "The last run (...) was cancelled; nothing was saved." as their own.
    job = running_job(owner="first visitor")
    job._set(status=status, phase=jobs.DONE, error="it broke" if status == jobs.FAILED else None)
    monkeypatch.setattr(idle_jobs, "_job", job)
    assert "The last run" not in texts(session("second visitor"))
    assert "The last run" in texts(session("first visitor"))


def test_a_reload_still_owns_the_run_it_started_through_the_browser_id_in_its_cookie(idle_jobs, monkeypatch):
    me = feedback.new_browser_id()
    job = running_job(owner=me)
    monkeypatch.setattr(idle_jobs, "_job", job)
    at = AppTest.from_function(train_app, default_timeout=TIMEOUT)
    monkeypatch.setattr(corrections, "_cookie", lambda: me)  # a new session (a reload) of that browser
    at.run()
    assert not at.exception
    assert "another visitor" not in texts(at)
    assert [b.label for b in at.button] == ["Cancel"]


# -- Inspect page -----------------------------------------------------------------------------


def test_inspect_overview_shows_the_card_and_layer_table():
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT).run()
    assert not at.exception
    models = at.selectbox(key="inspect_model")
    assert [o.split(" ")[0] for o in models.options[:2]] == ["cnn", "dense"]  # shipped first
    assert all("(shipped" in o for o in models.options[:2])
    models.set_value("dense").run()
    assert not at.exception
    assert "MNIST test accuracy" in [m.label for m in at.metric]
    # The shipped dense is an ensemble: its members' scores, then every member's layers.
    card = modelio.read_card(config.SHIPPED_MODELS_DIR / "dense.keras")
    n = card["members"]
    assert any(f"An ensemble of {n} dense networks" in m.value for m in at.markdown)
    members, layers = at.dataframe[0].value, at.dataframe[1].value
    assert list(members["member"]) == [f"m{i}" for i in range(n)]
    assert list(members["seed"]) == [m["seed"] for m in card["member_cards"]]
    single = ["flatten", "dense_128", "probabilities"]
    expected = ["image", *(f"m{i}_{name}" for i in range(n) for name in single), "probabilities"]
    assert list(layers["layer"]) == expected
    assert layers["parameters"].sum() == n * 101770
    # How it trained is its members' story (the ensemble itself was never trained).
    assert any(f"{n} members trained apart on" in c.value for c in at.caption)
    assert "The card records no training history." not in [c.value for c in at.caption]


def test_training_curves_are_drawn_on_an_axis_that_starts_near_the_values():
    frame = pd.DataFrame({"m0 accuracy": [0.97, 0.99], "m1 accuracy": [0.98, None], "epoch": [1, 2]})
    spec = inspect_page._history_chart(frame, ["m0 accuracy", "m1 accuracy"], "accuracy").to_dict()
    assert spec["encoding"]["y"]["scale"] == {"zero": False}
    assert spec["encoding"]["color"]["field"] == "curve"
    # One row per curve and epoch, named by member; an epoch a member never trained is left out.
    rows = next(iter(spec["datasets"].values()))
    assert sorted((r["curve"], r["epoch"]) for r in rows) == [("m0", 1), ("m0", 2), ("m1", 1)]
    # A single model's own curve keeps its name.
    single = pd.DataFrame({"loss": [0.3, 0.2], "epoch": [1, 2]})
    rows = next(iter(inspect_page._history_chart(single, ["loss"], "loss").to_dict()["datasets"].values()))
    assert {r["curve"] for r in rows} == {"loss"}


def test_the_overview_says_how_a_model_trained_or_nothing_when_its_card_does_not_say():
    single = {"data": {"train_images": 60000}, "epochs": 12, "training_seconds": 84.5}
    assert inspect_page._trained(single) == "trained 12 epochs on 60,000 images in 84.5 s"
    members = [{"data": {"train_images": 9}, "training_seconds": 10}, {"data": {"train_images": 7}}]
    expected = "2 members trained apart on 7-9 images each, 10 s in all"
    assert inspect_page._trained({"member_cards": members}) == expected
    assert inspect_page._trained({}) is None
    assert inspect_page._trained({"member_cards": [{"data": "junk"}, 3]}) is None


def test_a_single_models_overview_charts_its_own_training_curves(tmp_path, monkeypatch):
    folder = tmp_path / "user"
    folder.mkdir()
    shutil.copy(config.SHIPPED_MODELS_DIR / "dense.keras", folder / "mine.keras")
    history = {"loss": [0.5, 0.3, 0.2], "accuracy": [0.90, 0.95, 0.97]}
    card = {"data": {"train_images": 1000}, "epochs": 3, "training_seconds": 4.5, "history": history}
    modelio.write_json(folder / "mine.json", card)
    monkeypatch.setenv(config.USER_MODELS_ENV, str(folder))
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state["inspect_model"] = "mine"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("trained 3 epochs on 1,000 images in 4.5 s" in c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 2  # loss and accuracy


def test_a_fine_tuned_models_overview_says_what_it_learned_from(tmp_path, monkeypatch):
    shutil.copy(config.SHIPPED_MODELS_DIR / "dense.keras", tmp_path / "dense-mine.keras")
    card = json.loads((config.SHIPPED_MODELS_DIR / "dense.json").read_text())
    card |= {
        "name": "dense-mine",
        "drawn_digit_accuracy": None,
        "base_model": {"name": "dense", "test_accuracy": 0.99},
        "corrections": {
            "trained_on": 18,
            "held_out": 3,
            "held_out_accuracy_before": 0.333333,
            "held_out_accuracy_after": 1.0,
        },
    }
    (tmp_path / "dense-mine.json").write_text(json.dumps(card))
    monkeypatch.setenv(config.USER_MODELS_ENV, str(tmp_path))
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state["inspect_model"] = "dense-mine"
    at.run()
    assert not at.exception
    assert (
        "Fine-tuned from **dense** on 18 corrections; the 3 kept out of training: 33.33% → 100.00%. "
        "Drawn-digit accuracy is not measured for a fine-tune." in texts(at)
    )


def test_an_ensembles_training_curves_are_its_members_named_as_their_layers():
    first = {"history": {"loss": [0.5, 0.2], "accuracy": [0.9, 0.95]}}
    members = [first, {"history": {"loss": [0.4]}}, "junk"]
    assert inspect_page._members_history(members) == {
        "m0 loss": [0.5, 0.2],
        "m0 accuracy": [0.9, 0.95],
        "m1 loss": [0.4],
    }
    assert inspect_page._members_history("not a list") == {}


def test_inspect_test_set_shows_the_accuracy_of_a_shipped_model(mnist_dir):
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state["inspect_section"] = "Test set"
    at.run()
    assert not at.exception
    accuracy = next(m for m in at.metric if m.label == "Test accuracy").value
    assert accuracy.endswith("%") and 80 < float(accuracy.rstrip("%")) <= 100
    assert "Confusion matrix" in texts(at)
    assert "Where the dense network and the CNN disagree" in texts(at)


def test_inspect_without_mnist_says_so_in_the_pages_words_not_the_command_lines(monkeypatch, tmp_path):
    # The loader's message names --data-dir and, offline, a raw network error (a tester, qa24).
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "no-mnist-here"))
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state["inspect_section"] = "Test set"
    at.run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("This part needs the MNIST data set") and "no-mnist-here" in warning
    assert "--data-dir" not in warning


def test_inside_the_model_says_why_a_drawn_number_is_not_offered():
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state[inspect_page.DRAWING_KEY] = None  # what the Draw page keeps for a number
    at.session_state[inspect_page.NUMBER_DRAWN_KEY] = True
    at.session_state["inspect_section"] = "Inside the model"
    at.run()
    assert not at.exception
    assert at.radio(key="inspect_source").value == "An MNIST test image"
    assert "is several digits; the model is looked into one digit at a time" in texts(at)


def test_inspect_shows_the_drawing_from_the_draw_page_inside_the_models():
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    drawing = np.zeros((28, 28), np.float32)
    drawing[5:23, 13:16] = 1.0
    at.session_state[inspect_page.DRAWING_KEY] = drawing
    at.session_state["inspect_section"] = "Inside the model"
    at.run()
    assert not at.exception
    assert at.radio(key="inspect_source").value == "Your drawing"
    shown = texts(at)
    assert "saliency on your drawing" in shown
    assert "Feature maps of cnn" in shown and "First-layer filters" in shown
    assert "First-layer weights of dense" in shown

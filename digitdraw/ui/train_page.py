"""The Train page: train a new model from the browser and watch it learn.

The run itself lives in digitdraw.jobs (one per server, in its own process); this page only
starts it, polls its progress in a fragment, and cancels it. So a run goes on when its page is
left, and every session sees the same run. A run belongs to the session that started it: the
others see its progress beside their own form, with Start disabled until it ends, and only
its owner (or a session unlocked with the operator password) can cancel it.

"Fine-tune on my drawings" starts the other kind of run: a chosen model learns the corrections
this browser saved on the Draw page (digitdraw.finetune), through the same job machinery.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os

import altair as alt
import pandas as pd
import streamlit as st

from digitdraw import architectures, config, jobs, modelio, pendigits, recipe
from digitdraw.feedback import NOT_A_DIGIT, FeedbackStoreError
from digitdraw.finetune import FinetuneSettings, class_drops, split_corrections
from digitdraw.ui import corrections
from digitdraw.ui.models import md

PASSWORD_SECRET = "training_password"  # st.secrets key; env DIGITDRAW_TRAINING_PASSWORD also works
UNLOCK_KEY = "train_unlocked"
OWNER_KEY = "train_owner"  # this session's id: the owner of the runs it starts
POLL_SECONDS = 1.0  # progress refresh; each poll only copies a few lists under a lock
WATCH_SECONDS = 3.0  # an idle page looks this often for a run started by another session
RECIPES = (*recipe.PRESETS, "custom")
TRAIN_SIZES = (1000, 2000, 5000, 10000, 20000, 30000, 60000)
BATCH_SIZES = (32, 64, 128, 256, 512)
LEARNING_RATES = (3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2)
PHASE_TEXT = {
    jobs.PREPARING: "Starting the training process, loading the data and building the model…",
    jobs.TRAINING: "Training",
    jobs.EVALUATING: "Training done: measuring it on the MNIST test set and on drawn digits (10-30 s)…",
    jobs.SAVING: "Saving the model and its card…",
}
FINETUNE_PHASE_TEXT = {
    jobs.PREPARING: "Starting the process, loading MNIST, the corrections and the base model, and drawing "
    "the corrections…",
    jobs.TRAINING: "Training",
    jobs.EVALUATING: "Training done: measuring it on the held-out corrections and the MNIST test set, "
    "then saving it…",
}


@st.cache_resource
def server_jobs() -> jobs.TrainingJobs:
    """The server's one TrainingJobs, shared by every session (st.cache_resource's shared object).

    It outlives Streamlit's file watcher too: when a source file changes, the watcher drops the
    project's modules and the next run imports them afresh, but the cache keeps this object,
    so a running job never vanishes from the page and a second run cannot start beside it.
    """
    return jobs.TrainingJobs()


def page() -> None:
    st.title("Train a model")
    st.caption(
        "Train a fresh network on MNIST and watch it learn. The models the Draw page is using "
        "are never touched: a finished run is saved as a new model you can then choose there."
    )
    if not config.TRAINING_ENABLED:
        st.info(
            "Training is switched off on this server. The Draw and Inspect pages work as usual "
            "with the models already here.",
            icon=":material/lock:",
        )
        return
    password = _required_password()
    if password and not _unlocked(password):
        return

    _keep_form()
    job = server_jobs().current()
    if job is not None and job.status == jobs.RUNNING:
        if job.owner == _session_id():
            _progress()
            return
        # Someone else's run: watch it, and keep this session's form for when it ends.
        st.info("A run started by another visitor is in progress.", icon=":material/group:")
        _progress()
        busy = "Another visitor's run is in progress; Start is possible again once it ends."
        _form(busy=busy)
        _finetune_form(busy=busy)
        return
    if job is not None and (job.kind != jobs.FINETUNE or job.owner == _session_id()):
        # A fine-tune is someone's own drawings: its result is shown to them only. A trained model is
        # everyone's (it is offered on every page), but another visitor's cancelled or failed run is
        # nothing to a newcomer: "the last run was cancelled" read as their own.
        snap = job.snapshot()
        if job.owner == _session_id() or snap.status == jobs.FINISHED:
            _last_result(snap)
    _form(busy=None)
    _finetune_form(busy=None)
    _watch_for_other_runs()


# The forms' widgets (train_*, finetune_*), not their buttons or the password: Streamlit sets only values.
_FORM_PREFIXES = ("train_", "finetune_")
_BUTTONS = {"train_start", "train_cancel", "finetune_start", "train_password", "train_password_form"}


def _keep_form() -> None:
    """Keep the forms' choices through the owner's own run, while the page shows only its progress.

    Streamlit forgets a widget's value after a run that did not show it; writing the value back
    into the session state (its documented idiom for widgets that leave the page) keeps it.
    """
    for key in [k for k in st.session_state if k.startswith(_FORM_PREFIXES) and k not in _BUTTONS]:
        st.session_state[key] = st.session_state[key]


# -- Access -----------------------------------------------------------------------------------


def _session_id() -> str:
    """Who owns a run: this browser's anonymous id (corrections.browser_id, kept in its cookie), so
    that after a reload the page still shows the run as its own, with Cancel."""
    if OWNER_KEY not in st.session_state:
        st.session_state[OWNER_KEY] = corrections.browser_id()
    return st.session_state[OWNER_KEY]


def _operator() -> bool:
    """Whether this session holds the operator password: set on this server, and unlocked with it."""
    password = _required_password()
    return bool(password) and st.session_state.get(UNLOCK_KEY) == _digest(password)


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _required_password() -> str | None:
    """The password protecting this page, from st.secrets or the environment; None: open."""
    try:
        secret = st.secrets.get(PASSWORD_SECRET)
    except Exception:  # no secrets file at all is the normal case, and it raises
        secret = None
    return str(secret) if secret else os.environ.get(config.TRAINING_PASSWORD_ENV) or None


def _unlocked(password: str) -> bool:
    # The session remembers a digest of the password it was unlocked with, so changing the
    # password locks every session again.
    digest = _digest(password)
    if st.session_state.get(UNLOCK_KEY) == digest:
        return True
    st.info(
        "Training is protected on this server: enter the password to use this page.", icon=":material/key:"
    )
    with st.form("train_password_form"):
        typed = st.text_input("Password", type="password", key="train_password")
        submitted = st.form_submit_button("Unlock")
    if submitted:
        # compare_digest: the time taken says nothing about how much of a guess was right.
        if hmac.compare_digest(typed.encode(), password.encode()):
            st.session_state[UNLOCK_KEY] = digest
            st.rerun()
        st.error("Wrong password.")
    return False


# -- Choosing a run ---------------------------------------------------------------------------


def _form(busy: str | None) -> None:
    """The recipe's choices and Start; `busy` says why Start is disabled (another run), if it is."""
    st.subheader("New run")
    try:  # read now: a bad value in the environment is a message here, not a traceback
        max_epochs, max_seconds = int(config.MAX_EPOCHS), float(config.MAX_TRAIN_SECONDS)
    except config.ConfigError as exc:
        st.error(str(exc), icon=":material/settings:")
        why = "This server's training limits are not usable (see above); the operator must fix them."
        st.button("Start training", type="primary", key="train_start", disabled=True, help=why)
        st.caption(why)
        return
    missing = jobs.mnist_problem()
    if missing:
        st.warning(missing, icon=":material/dataset:")
    names = list(architectures.ARCHITECTURES)
    left, right = st.columns(2, gap="large")
    with left:
        arch = st.selectbox(
            "Architecture",
            names,
            index=names.index("cnn") if "cnn" in names else 0,
            key="train_arch",
        )
        about = st.empty()  # what the recipe trains, once the recipe is chosen (below)
        api = st.radio(
            "Keras API",
            architectures.APIS,
            horizontal=True,
            key="train_api",
            format_func=str.capitalize,
            help="The same layers and parameters either way: keras.Sequential or the functional API.",
        )
        chosen = st.radio(
            "Recipe",
            RECIPES,
            horizontal=True,
            key="train_recipe",
            format_func=str.capitalize,
            help="Quick: a short run for a first look (about a minute for the cnn). Standard: "
            "longer, with augmentation, for a better model. Custom: set everything yourself.",
        )
    base = recipe.preset("quick" if chosen == "custom" else chosen, arch)
    # A preset may train a lighter variant (quick cnn: cnn_quick); a custom recipe trains the choice.
    trained = arch if chosen == "custom" else base.architecture
    about.caption(
        architectures.DESCRIPTIONS[trained]
        if trained == arch
        else f"The {chosen} recipe trains `{trained}`: {architectures.DESCRIPTIONS[trained]}"
    )
    custom = None
    with right:
        if chosen == "custom":
            c1, c2 = st.columns(2)
            epochs = c1.number_input(
                "Epochs", 1, max_epochs, min(base.epochs, max_epochs), key="train_epochs"
            )
            batch = c2.select_slider("Batch size", BATCH_SIZES, value=base.batch_size, key="train_batch")
            lr = c1.select_slider(
                "Learning rate",
                LEARNING_RATES,
                value=base.learning_rate,
                key="train_lr",
                format_func=lambda v: f"{v:g}",
                help="The peak of a warm-up and cosine decay.",
            )
            augment = c2.toggle(
                "Augmentation",
                value=base.augment,
                key="train_augment",
                help="Each batch slanted, rotated, scaled and shifted a little at random (one resampling).",
            )
            custom = {
                "epochs": int(epochs),
                "batch_size": int(batch),
                "learning_rate": float(lr),
                "augment": bool(augment),
            }
            if jobs.gpu_count() > 1:  # offered only where there is more than one GPU to share a run
                custom["distribute"] = c2.toggle(
                    "Train on all GPUs",
                    value=False,
                    key="train_distribute",
                    help=f"tf.distribute.MirroredStrategy over this server's {jobs.gpu_count()} GPUs: "
                    "each takes a slice of every batch. Batch size and learning rate are per GPU.",
                )
        else:
            st.markdown(
                f"**{chosen.capitalize()}** for {arch}: {base.epochs} epochs, batch {base.batch_size}, "
                f"learning rate {base.learning_rate:g}, augmentation {'on' if base.augment else 'off'}."
            )
        size = st.select_slider(
            "Training images",
            TRAIN_SIZES,
            value=TRAIN_SIZES[-1],
            key="train_size",
            format_func=lambda n: f"{n:,}",
            help="Fewer images: a faster run and a weaker model.",
        )
        pen_file = config.pendigits_path()
        have_pen = pen_file is not None and pen_file.is_file()
        pen = st.toggle(
            "Add pen-drawn digits",
            value=bool(base.pen_writers) and have_pen,
            disabled=not have_pen,
            key=f"train_pen_{chosen}",  # one per recipe: each starts from its own default
            help=f"Real pen strokes of pendigits writers {pendigits.TUNE_WRITERS}, drawn on a canvas and "
            "preprocessed like your drawings: the biggest help for reading what people draw. "
            f"Writers {pendigits.HOLDOUT_WRITERS} stay unseen, to measure the drawn-digit accuracy.",
        )
        if not have_pen:
            st.caption(
                f"No pendigits file on this server (set ${config.PENDIGITS_ENV}): "
                "this run trains on MNIST alone."
            )
        limit = int(max_seconds)
        budget = st.number_input(
            "Time limit (seconds)",
            1,
            limit,
            min(300, limit),
            step=10,
            key="train_budget",
            help="Counted from Start, loading the data included: training stops then and keeps what "
            f"it learned (measuring and saving it take a little longer); at most {limit} s here.",
        )
    cfg = recipe.recipe_from_choices(
        chosen, arch, api, train_images=int(size), pen_digits=pen, time_budget=float(budget), custom=custom
    )
    why_not = busy or (missing and "Training needs MNIST on this server (see above).")
    # What Start will run, as the run will be recorded: a number typed outside a field's range is
    # refused by the field (which keeps its last good value), and this line shows which one runs.
    st.caption(f"This run: {recipe.describe(cfg)}.")
    if st.button(
        "Start training",
        type="primary",
        key="train_start",
        icon=":material/play_arrow:",
        disabled=bool(why_not),
        help=why_not or None,
    ):
        try:
            server_jobs().start(cfg, owner=_session_id())
        except jobs.JobError as exc:  # e.g. another visitor started one a moment ago
            st.error(str(exc), icon=":material/block:")
        else:
            st.rerun()
    if why_not:
        st.caption(why_not)


def _finetune_settings() -> FinetuneSettings:
    """The recipe of a fine-tune here: digitdraw.finetune's, without pen digits when this server has none."""
    pen_file = config.pendigits_path()
    have_pen = pen_file is not None and pen_file.is_file()
    return FinetuneSettings() if have_pen else dataclasses.replace(FinetuneSettings(), pen_replay=0)


def _finetune_form(busy: str | None) -> None:
    """ "Fine-tune on my drawings": a base model, this browser's corrections counted, and Start."""
    st.divider()
    st.subheader("Fine-tune on my drawings")
    settings = _finetune_settings()
    st.caption(
        "Teach a model your handwriting: it learns the drawings you corrected on the Draw page (each "
        f"drawn again {settings.copies} times, slightly changed, and mixed with MNIST"
        + (" and pen-drawn digits" if settings.pen_replay else "")
        + " it already reads, so that it forgets little: the result says what it forgot) and is saved as"
        " a new model."
        + (
            " Its reader of the pen's path learns how you draw each digit too: the order and direction "
            "of your strokes."
            if settings.reader
            else ""
        )
    )
    entries = [e for e in modelio.available_models() if not e.broken]
    if not entries:
        st.warning("There is no model to start from on this server.", icon=":material/block:")
        return
    names = [e.name for e in entries]
    labels = {e.name: e.label for e in entries}
    base = st.selectbox(
        "Start from",
        names,
        index=names.index("cnn") if "cnn" in names else 0,
        key="finetune_base",
        format_func=labels.__getitem__,
    )
    me = corrections.browser_id()
    need = settings.min_corrections
    try:
        drawings = corrections.get_store().list_drawings(me)
    except FeedbackStoreError as exc:
        st.error(str(exc), icon=":material/database:")
        cannot = "Your corrections cannot be read just now (see above)."
    else:
        labels = [d.label for d in drawings if d.label != NOT_A_DIGIT]
        usable = len(labels)
        others = len(drawings) - usable
        st.markdown(
            f"This browser has saved **{len(drawings)}** correction{'s' if len(drawings) != 1 else ''}"
            + (f" ({others} of them 'not a digit', which a digit model cannot learn)" if others else "")
            + ". "
            + _held_out_note(labels, settings.hold_out)
        )
        cannot = None
        if usable < need:
            cannot = (
                f"{need - usable} more needed: a fine-tune needs at least {need} corrections with a digit "
                'label. Correct some drawings on the Draw page ("Right?" under the canvas).'
            )
    missing = jobs.mnist_problem() and "Training needs MNIST on this server (see above)."
    why_not = busy or missing or cannot
    if st.button(
        "Fine-tune on my drawings",
        type="primary",
        key="finetune_start",
        icon=":material/person_edit:",
        disabled=bool(why_not),
        help=why_not or None,
    ):
        cfg = jobs.FinetuneConfig(base_model=base, browser_id=me, settings=settings)
        try:
            server_jobs().start_finetune(cfg, owner=_session_id())
        except jobs.JobError as exc:
            st.error(str(exc), icon=":material/block:")
        else:
            st.rerun()
    if why_not:
        st.caption(why_not)


def _held_out_note(labels: list[int], share: float) -> str:
    """How many corrections the fine-tune will keep out to measure it: split_corrections's own count."""
    held = len(split_corrections(labels, share, seed=0)[1]) if labels else 0
    if held:
        return f"{held} of them will be kept out of training, to measure the new model on."
    if share <= 0:  # a setting of 0 (allowed): all of them train, none measures
        return "All of them will be used for training; none is kept out to measure the new model on."
    fewest = next(n for n in range(2, 1000) if round(share * n) >= 1)
    return (
        "None can be kept out to measure the new model on yet: that takes "
        f"{fewest} or more corrections of one digit (about {share:.0%} of each digit's are kept out)."
    )


@st.fragment(run_every=WATCH_SECONDS)
def _watch_for_other_runs() -> None:
    # An idle page is re-drawn as soon as a run starts anywhere, so a second session sees
    # that run instead of offering a Start that would be refused.
    if server_jobs().running():
        st.rerun()


# -- A run in progress --------------------------------------------------------------------------


@st.fragment(run_every=POLL_SECONDS)
def _progress() -> None:
    job = server_jobs().current()
    if job is None or job.status != jobs.RUNNING:
        st.rerun()  # the whole page: the result and a fresh form replace this fragment
        return
    snap = job.snapshot()
    cfg = snap.config
    if snap.kind == jobs.FINETUNE:
        whose = "your" if job.owner == _session_id() else "a visitor's"
        st.subheader(f"Fine-tuning {md(_base_name(cfg))} on {whose} corrections")
        st.caption(_describe_finetune(cfg["settings"]))
    else:
        st.subheader(f"Training {cfg['architecture']} ({cfg['api']})")
        st.caption(recipe.describe(recipe.TrainConfig(**cfg)))
    progress = snap.progress
    if snap.phase == jobs.TRAINING:
        epoch = min(max(progress.epoch, 1), snap.epochs)
        text = f"Epoch {epoch} of {snap.epochs} · batch {progress.step} of {progress.steps}"
    else:
        phases = FINETUNE_PHASE_TEXT if snap.kind == jobs.FINETUNE else PHASE_TEXT
        text = phases.get(snap.phase, snap.phase)
    st.progress(snap.fraction, text=text)

    last = progress.batches[-1] if progress.batches else {}
    c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 1, 1.2], vertical_alignment="bottom")
    c1.metric("Elapsed", _duration(snap.elapsed))
    c2.metric(
        "Remaining (est.)",
        "…" if snap.eta is None else _duration(snap.eta),
        help="Training time left at the pace so far, or until the time limit if sooner; "
        "measuring the model (MNIST test set, drawn digits) and saving it take 10-30 s more on a "
        "2-core server.",
    )
    c3.metric("Loss", f"{last['loss']:.3f}" if "loss" in last else "–")
    c4.metric(
        "Accuracy",
        f"{last['accuracy']:.1%}" if "accuracy" in last else "–",
        help="On the training batches of this epoch so far.",
    )
    me, operator = _session_id(), _operator()
    with c5:
        slot = st.empty()  # the button, replaced by the notice once a cancel is asked for
        requested = snap.cancel_requested
        if snap.phase == jobs.SAVING and not requested:
            # Past the last point where the run can stop: offering Cancel would promise nothing saved.
            slot.caption("Saving: too late to cancel.")
        elif (
            not requested
            and job.may_cancel(me, operator)
            and slot.button(
                "Cancel",
                key="train_cancel",
                icon=":material/stop:",
                width="stretch",
                help="Stop after the current batch; nothing is saved."
                + ("" if job.owner == me else " (Another visitor's run: you hold the operator password.)"),
            )
        ):
            try:
                requested = server_jobs().cancel(me, operator=operator)
            except jobs.NotOwner as exc:
                slot.error(str(exc), icon=":material/block:")
        if requested:
            slot.warning("Cancelling after the current batch…", icon=":material/stop:")
    _curves(snap)


def _curves(snap: jobs.JobSnapshot) -> None:
    if not snap.progress.batches:
        return
    batches = pd.DataFrame(snap.progress.batches)
    ends = pd.DataFrame([e for e in snap.progress.epoch_end if not e.get("partial")])
    left, right = st.columns(2)
    for col, metric, title in ((left, "loss", "Loss"), (right, "accuracy", "Accuracy")):
        if metric not in batches:
            continue
        col.altair_chart(_curve_chart(batches, ends, metric, title), width="stretch")
    st.caption("Lines: running average over each epoch's batches so far. Dots: the epoch's final value.")


def _curve_chart(batches: pd.DataFrame, ends: pd.DataFrame, metric: str, title: str) -> alt.LayerChart:
    fmt = ".0%" if metric == "accuracy" else ".2f"
    x = alt.X(
        "x:Q",
        title="epoch",
        axis=alt.Axis(tickMinStep=1, format="d"),
        scale=alt.Scale(domain=[0, max(1, int(batches["x"].max() + 0.999))]),
    )
    line = (
        alt.Chart(batches)
        .mark_line()
        .encode(
            x=x,
            y=alt.Y(f"{metric}:Q", title=title, axis=alt.Axis(format=fmt), scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("epoch:O"),
                alt.Tooltip("step:Q", title="batch"),
                alt.Tooltip(f"{metric}:Q", format=".4f"),
            ],
        )
    )
    layers = [line]
    if not ends.empty and metric in ends:
        points = alt.Chart(ends.rename(columns={"epoch": "x"}))
        points = points.mark_point(filled=True, size=70, color="#d62728")
        layers.append(
            points.encode(
                x=x,
                y=f"{metric}:Q",
                tooltip=[alt.Tooltip("x:Q", title="epoch"), alt.Tooltip(f"{metric}:Q", format=".4f")],
            )
        )
    return alt.layer(*layers).properties(height=220, title=title)


# -- The last run's outcome --------------------------------------------------------------------


def _last_result(snap: jobs.JobSnapshot) -> None:
    cfg = snap.config
    if snap.kind == jobs.FINETUNE:
        what = f"fine-tune of {md(_base_name(cfg))}"
    else:
        what = f"{cfg['architecture']} ({cfg['api']})"
    if snap.status == jobs.FINISHED and snap.kind == jobs.FINETUNE:
        card = _card(snap.model_path)
        st.success(
            f"**{md(snap.model_name)}** is ready: a {what} on your corrections, in {_duration(snap.elapsed)}."
            f"  \n{_finetune_figures(card)}.  \n"
            "It can now be chosen on the **Draw** page (and looked into on the **Inspect** page).",
            icon=":material/check_circle:",
        )
        forgot = _forgotten(card or {})
        if forgot:
            st.warning(forgot, icon=":material/trending_down:")
    elif snap.status == jobs.FINISHED:
        drawn = "not measured" if snap.drawn_accuracy is None else f"**{snap.drawn_accuracy:.2%}**"
        st.success(
            f"**{snap.model_name}** is ready: a {what} trained and measured in {_duration(snap.elapsed)}.  \n"
            f"MNIST test accuracy **{snap.test_accuracy:.2%}** · drawn-digit accuracy {drawn}.  \n"
            "It can now be chosen on the **Draw** page (and looked into on the **Inspect** page).",
            icon=":material/check_circle:",
        )
    elif snap.status == jobs.CANCELLED:
        st.info(f"The last run ({what}) was cancelled; nothing was saved.", icon=":material/stop:")
    elif snap.status == jobs.FAILED:
        st.error(f"The last run ({what}) failed: {snap.error}", icon=":material/warning:")
    if snap.status == jobs.FINISHED:
        for note in snap.notes:
            st.caption(note)
    if snap.progress.batches:
        with st.expander("Learning curves of the last run"):
            _curves(snap)


def _card(model_path: str | None) -> dict | None:
    """A finished run's model card, or None where it cannot be read."""
    try:
        return modelio.read_card(model_path) if model_path else None
    except modelio.ModelFileError:
        return None


def _forgotten(card: dict) -> str | None:
    """What a fine-tune (its model's card) cost other people's digits (class_drops), in words; None if
    nothing."""
    drops = class_drops(card)
    if not drops:
        return None
    said = ", ".join(f"its {d}s {before:.1%} → {after:.1%}" for d, before, after in drops)
    return (
        f"On MNIST, other people's digits: {said}. Corrections that look like another digit teach the "
        "model that digit's shape too; the base model is unchanged, and can still be chosen."
    )


def _finetune_figures(card: dict | None) -> str:
    """ "held-out corrections: 60% → 90%; MNIST 99.5% → 99.4%", from the new model's card."""
    if not card:
        return "Its card cannot be read, so its figures cannot be shown"
    got = card.get("corrections", {})
    before, after = got.get("held_out_accuracy_before"), got.get("held_out_accuracy_after")
    if before is None or after is None:
        held = "no corrections were held out to measure on"
    else:
        held = f"held-out corrections ({got.get('held_out')}): {before:.0%} → {after:.0%}"
    base_test, test = (card.get("base_model") or {}).get("test_accuracy"), card.get("test_accuracy")
    if test is None:
        mnist = "MNIST not measured"
    else:
        mnist = f"MNIST {'' if base_test is None else f'{base_test:.1%} → '}{test:.1%}"
    reader = card.get("pen_path")
    path = (
        "; its pen-path reader was fine-tuned on your strokes too"
        if isinstance(reader, dict) and reader.get("finetuned")
        else ""
    )
    return (
        f"Trained on {got.get('trained_on')} corrections; {held}; {mnist}{path}"
        if got.get("trained_on") is not None
        else f"{held}; {mnist}{path}"
    )


# -- Small helpers ------------------------------------------------------------------------------


def _base_name(cfg: dict) -> str:
    return modelio.model_name(cfg["base_model"]) or str(cfg["base_model"])


def _describe_finetune(s: dict) -> str:
    pen = f" and {s['pen_replay']:,} pen-drawn digits" if s["pen_replay"] else ""
    return (
        f"{s['epochs']} epoch{'' if s['epochs'] == 1 else 's'}, batch {s['batch_size']}, "
        f"learning rate {s['learning_rate']:g}; each "
        f"correction drawn {s['copies']} times, with {s['mnist_replay']:,} MNIST images{pen} replayed"
        + ("; the pen-path reader learns the strokes too." if s.get("reader") else ".")
    )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"

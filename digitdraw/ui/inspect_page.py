"""The Inspect page: what a model is, how well it does, and what happens inside it.

The numbers come from digitdraw.introspect and digitdraw.evaluate; this file lays them out.
Evaluations are cached per model file (path and mtime), so a rerun never re-scores 10,000
images; only the section shown is computed. The model chosen at the top, if trained here, is
renamed and deleted here too ("Manage models"), behind the Train page's switch and password.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from digitdraw import config, data, ensemble, export, introspect, jobs, modelio, penpath, results
from digitdraw.evaluate import Evaluation, score
from digitdraw.predict import Predictor
from digitdraw.ui import train_page
from digitdraw.ui.draw_page import DRAWING_KEY, DRAWING_STROKES_KEY, NUMBER_DRAWN_KEY
from digitdraw.ui.models import follow_model, load_predictor, md, record_rename

MANAGE_CONFIRM_KEY = "inspect_confirm_delete"  # the model whose deletion awaits a confirmation
MANAGE_NOTICE_KEY = "inspect_manage_notice"  # what the last rename or delete did, shown once
# The model to show after a rename (its new name) or a delete (None: the first). Applied at the top
# of the next run: Streamlit refuses to set a widget's value once the widget is drawn in a run.
MANAGE_NEXT_KEY = "inspect_manage_next"
MODEL_KEY = "inspect_model"  # the page's model picker: every section, and Manage models, show this one
NEW_NAME_KEY = "inspect_new_name"
EXPORT_KEY = "inspect_export"  # the last export prepared for download: its model, choice, file and card

# The Export section's choices: label -> (format, quantization) of digitdraw.export.
EXPORT_CHOICES = {
    "SavedModel (TensorFlow Serving)": ("savedmodel", None),
    "TFLite": ("tflite", None),
    "TFLite int8": ("tflite", "int8"),
    "ONNX": ("onnx", None),
}

SECTIONS = ("Overview", "Test set", "Data", "Inside the model", "Export")
SECTION_KEY, LAST_SECTION_KEY = "inspect_section", "inspect_last_section"
GALLERY = 24  # images per gallery
TILE_PX = 84  # a 28x28 image shown at 3x


# On a phone the five sections do not fit in one row: Streamlit's segmented control scrolls
# sideways with no sign of it, hiding the last ones. They wrap onto a second row instead.
_STYLE = """<style>
.st-key-inspect_section [data-testid="stButtonGroup"] > div { flex-wrap: wrap; row-gap: 0.25rem; }
</style>"""


def page() -> None:
    st.title("Inspect a model")
    st.html(_STYLE)
    entries = modelio.available_models()
    if not entries:
        st.warning(f"No model files found in {config.SHIPPED_MODELS_DIR} or {config.user_models_dir()}.")
        return
    by_name = {e.name: e for e in entries}
    _after_manage(first=entries[0].name)
    follow_model(MODEL_KEY, by_name, entries[0].name, then="showing")
    top_left, top_right = st.columns([2, 3], vertical_alignment="bottom")
    name = top_left.selectbox("Model", list(by_name), key=MODEL_KEY, format_func=lambda n: by_name[n].label)
    # Set through session state, not `default`: tests and links may preset the section.
    st.session_state.setdefault(SECTION_KEY, SECTIONS[0])
    section = top_right.segmented_control("Show", SECTIONS, key=SECTION_KEY, on_change=_keep_section)
    section = st.session_state[LAST_SECTION_KEY] = section or SECTIONS[0]
    entry = by_name[name]
    # Broken entries stay out of the comparisons ("the other model"); they are listed only.
    usable = {n: e for n, e in by_name.items() if not e.broken}
    problem = entry.problem if entry.broken else load_predictor(entry.path).error
    if problem is not None:
        st.error(f"Model **{md(name)}** cannot be used: {md(problem)}", icon=":material/error:")
    elif section == "Test set":
        _test_set(entry, usable)
    elif section == "Data":
        _data()
    elif section == "Inside the model":
        _inside(entry, usable)
    elif section == "Export":
        _export(entry)
    else:
        _overview(entry, load_predictor(entry.path).predictor.model)
    _manage(entry, any(not e.shipped for e in entries))


# -- Cached computations ---------------------------------------------------------------------------


def _mtime(path: Path) -> int:
    return path.stat().st_mtime_ns


def _mnist_or_none():
    try:
        return data.load_mnist()
    except data.DataError as exc:
        st.warning(_no_mnist(exc), icon=":material/folder_off:")
        return None


def _no_mnist(exc: data.DataError) -> str:
    """Why there is no MNIST, for a visitor: the Train page's words where the files are missing (the
    loader's own name command-line options and, offline, a raw network error: a tester, qa24)."""
    return jobs.mnist_problem(needs="This part needs") or f"The MNIST data here cannot be read: {exc}"


@st.cache_data(max_entries=16, show_spinner="Scoring the 10,000 MNIST test images…")
def _test_probabilities(path: str, mtime_ns: int) -> np.ndarray:
    # mtime_ns is only part of the key: a retrained file at the same path is scored afresh.
    del mtime_ns
    predictor = load_predictor(path).predictor
    return predictor.probabilities(data.load_mnist().x_test)


def _evaluation(entry: modelio.ModelEntry) -> Evaluation:
    probs = _test_probabilities(str(entry.path.resolve()), _mtime(entry.path))
    return score(probs, data.load_mnist().y_test)


@st.cache_data(max_entries=4)
def _class_overview(source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mnist = data.load_mnist()
    samples = introspect.class_samples(mnist.x_train, mnist.y_train, per_class=12, seed=0)
    grid = introspect.tile_grid(samples.reshape(-1, 28, 28), cols=12, pad=2, fill=40)
    return grid, introspect.class_counts(mnist.y_train), introspect.class_counts(mnist.y_test)


# -- Overview: card, layers, curves -------------------------------------------------------------------


def _percent(value) -> str:
    """An accuracy from a card as "99.50%", or "–" when the card has none (or a hand-edited oddity)."""
    return f"{value:.2%}" if isinstance(value, float) else "–"


def _field(card: dict, key: str) -> dict:
    """card[key] if it is an object, else {}: a hand-edited card must not break the page."""
    value = card.get(key)
    return value if isinstance(value, dict) else {}


def _overview(entry: modelio.ModelEntry, model) -> None:
    card = entry.card or {}
    if not card:
        st.info("This model has no card beside it: only its layers can be shown.")
    cols = st.columns(4)
    cols[0].metric(
        "Architecture",
        str(card.get("architecture", model.name)),
        help=f"Built with the {str(card.get('api', '?')).capitalize()} API.",
    )
    cols[1].metric("Parameters", f"{model.count_params():,}")
    acc = card.get("test_accuracy")
    cols[2].metric("MNIST test accuracy", _percent(acc))
    drawn = _field(card, "drawn_digit_accuracy").get("accuracy")
    cols[3].metric(
        "Drawn-digit accuracy",
        _percent(drawn),
        help="Real pen strokes of writers the model never saw, through the app's preprocessing.",
    )
    if card:
        trained = _trained(card)
        st.caption(
            f"{str(card.get('api', '?')).capitalize()} API · {trained} · "
            f"created {card.get('created', '?')} · "
            f"{'shipped with the app' if entry.shipped else 'trained here'} · {md(entry.path.name)}"
            if trained
            else md(entry.path.name)
        )

    tuned = _finetuned(card)
    if tuned:
        st.caption(tuned)

    members = card.get("member_cards")
    if isinstance(members, list) and members:
        kind = md(str(card.get("architecture", "")))
        st.markdown(
            f"**An ensemble of {len(members)} {kind} networks** trained apart (another seed each): "
            "it answers the average of their probabilities, which reads unseen "
            "handwriting better and is less often sure of a wrong answer than any one of them."
        )
        st.dataframe(pd.DataFrame(_member_rows(members)), hide_index=True)

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Layers")
        st.dataframe(pd.DataFrame(introspect.layer_rows(model)), hide_index=True, width="stretch")
    with right:
        st.subheader("Training curves")
        history = _field(card, "history") or _members_history(members)
        try:
            # Series: members may have trained for different numbers of epochs.
            frame = pd.DataFrame({k: pd.Series(v, dtype=float) for k, v in history.items()})
        except (ValueError, TypeError):  # not lists of numbers
            frame = None
        if frame is not None and len(frame):
            frame["epoch"] = np.arange(1, len(frame) + 1)
            for metric in ("loss", "accuracy"):
                columns = [c for c in frame.columns if c.endswith(metric)]
                if columns:
                    st.altair_chart(_history_chart(frame, columns, metric), width="stretch")
        else:
            st.caption("The card records no training history.")
    if card:
        with st.expander("The whole model card (JSON)"):
            st.code(json.dumps(card, indent=2), language="json")


def _history_chart(frame: pd.DataFrame, columns: list[str], metric: str) -> alt.Chart:
    """One line per column against "epoch". The axis starts near the values, not at 0: accuracy
    climbing from 97% to 99% is a flat line on an axis from 0. The legend, at the right, names each
    curve without the metric the axis already names ("m0", not "m0 loss"): below the plot it took
    its rows out of the chart's fixed height, and five members' names ran past the column's edge."""
    # "value", not the metric's name: a single model's curve is a column called "loss" itself.
    long = frame.melt(id_vars="epoch", value_vars=columns, var_name="curve", value_name="value").dropna()
    long["curve"] = long["curve"].str.removesuffix(f" {metric}")
    # As many digits as the ticks need (~ trims trailing zeros): a fixed ".2f" read "0.04" on every
    # tick of a fine-tune's loss, and ".1%" repeats too when accuracy moves by tenths of a point.
    fmt = "~%" if metric == "accuracy" else "~g"
    return (
        alt.Chart(long)
        .mark_line(point=True)  # a line needs two epochs: one epoch alone is its point
        .encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title=metric, axis=alt.Axis(format=fmt), scale=alt.Scale(zero=False)),
            color=alt.Color("curve:N", title=None),
            tooltip=["curve:N", "epoch:Q", alt.Tooltip("value:Q", title=metric, format=".4f")],
        )
        .properties(height=200)
    )


def _trained(card: dict) -> str | None:
    """How the model trained, from its card: "trained 18 epochs on 118,561 images in 1446 s"; an
    ensemble (no data of its own) from its members'. None when the card does not say."""
    trained = _field(card, "data").get("train_images")
    if isinstance(trained, int):
        seconds = card.get("training_seconds", "?")
        epochs = card.get("epochs", "?")
        stopped = " (stopped by the time limit)" if card.get("stopped_by_time_budget") else ""
        many = "" if epochs == 1 else "s"
        return f"trained {epochs} epoch{many}{stopped} on {trained:,} images in {seconds} s"
    members = [m for m in card.get("member_cards") or [] if isinstance(m, dict)]
    images = [_field(m, "data").get("train_images") for m in members]
    if not members or not all(isinstance(n, int) for n in images):
        return None
    seconds = sum(float(m.get("training_seconds") or 0) for m in members)
    # Members' counts differ with their recipes (--pen-styles) and the renderings found unreadable.
    each = f"{images[0]:,}" if min(images) == max(images) else f"{min(images):,}-{max(images):,}"
    return f"{len(members)} members trained apart on {each} images each, {seconds:,.0f} s in all"


def _finetuned(card: dict) -> str | None:
    """For a fine-tune on corrections: from what, on how many, and how it read the ones it never saw.
    (Its drawn-digit accuracy is not measured: the figure is for models trained apart from writers.)"""
    base, got = _field(card, "base_model"), _field(card, "corrections")
    if not base or not got:
        return None
    before, after = got.get("held_out_accuracy_before"), got.get("held_out_accuracy_after")
    held = ""
    if isinstance(before, float) and isinstance(after, float):
        held = f"; the {got.get('held_out')} kept out of training: {_percent(before)} → {_percent(after)}"
    return (
        f"Fine-tuned from **{md(str(base.get('name', '?')))}** on {got.get('trained_on', '?')} corrections"
        f"{held}. Drawn-digit accuracy is not measured for a fine-tune."
    )


def _members_history(members: object) -> dict[str, list]:
    """An ensemble's training curves: each member's, named by its layers' prefix ("m0 loss")."""
    curves = {}
    for i, member in enumerate(members if isinstance(members, list) else []):
        history = member.get("history") if isinstance(member, dict) else None
        for metric, values in (history if isinstance(history, dict) else {}).items():
            curves[f"{ensemble.prefix(i).rstrip('_')} {metric}"] = values
    return curves


def _member_rows(members: list) -> list[dict]:
    """One row per ensemble member, from the card: how each scored alone."""
    rows = []
    for i, member in enumerate(members):
        m = member if isinstance(member, dict) else {}  # a hand-edited card must not break the page
        rows.append(
            {
                "member": ensemble.prefix(i).rstrip("_"),  # as its layers are named
                "seed": m.get("seed"),
                "MNIST test": _percent(m.get("test_accuracy")),
                "drawn digits": _percent(m.get("drawn_digit_accuracy")),
                "styles split": _percent(m.get("styles_accuracy")),
            }
        )
    return rows


# -- Test set ----------------------------------------------------------------------------------------


def _test_set(entry: modelio.ModelEntry, by_name: dict[str, modelio.ModelEntry]) -> None:
    mnist = _mnist_or_none()
    if mnist is None:
        return
    ev = _evaluation(entry)
    wrong = int((ev.predicted != mnist.y_test).sum())
    c1, c2, c3 = st.columns(3)
    c1.metric("Test accuracy", f"{ev.accuracy:.2%}")
    c2.metric("Mistakes", f"{wrong:,} of {len(mnist.y_test):,}")
    worst = int(np.nanargmin(ev.per_class))
    c3.metric(
        "Hardest digit", str(worst), f"{ev.per_class[worst]:.1%} right", delta_color="off", delta_arrow="off"
    )

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Accuracy per digit")
        per = pd.DataFrame({"digit": range(10), "accuracy": ev.per_class})
        low = max(0.0, float(np.nanmin(ev.per_class)) - 0.02)
        st.altair_chart(
            # Clipped bars over a zoomed axis: at 97-100% per digit, bars from zero all look equal.
            alt.Chart(per)
            .mark_bar(clip=True)
            .encode(
                x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
                y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[low, 1]), axis=alt.Axis(format=".1%")),
                tooltip=["digit", alt.Tooltip("accuracy:Q", format=".2%")],
            )
            .properties(height=300),
            width="stretch",
        )
    with right:
        st.subheader("Confusion matrix")
        st.altair_chart(_confusion_chart(ev.confusion), width="stretch")

    st.subheader("Its most confident mistakes")
    idx = ev.mistakes(mnist.y_test)[:GALLERY]
    if len(idx):
        captions = [f"true {mnist.y_test[i]} → {ev.predicted[i]} ({ev.confidence[i]:.0%})" for i in idx]
        st.image([mnist.x_test[i] for i in idx], width=TILE_PX, caption=captions)
    else:
        st.caption("No mistakes at all.")

    _disagreements(entry, by_name, mnist)


def _confusion_chart(confusion: np.ndarray) -> alt.LayerChart:
    rows = [{"true": t, "predicted": p, "count": int(confusion[t, p])} for t in range(10) for p in range(10)]
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:O", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:O"),
    )
    # symlog: the diagonal holds about a thousand each, the mistakes a handful; both must show.
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(type="symlog", scheme="blues"), legend=None),
        tooltip=["true", "predicted", "count"],
    )
    text = base.mark_text(fontSize=10).encode(
        text="count:Q",
        color=alt.condition(alt.datum.count > 200, alt.value("white"), alt.value("black")),
    )
    return alt.layer(cells, text).properties(height=300)


def _kind(entry: modelio.ModelEntry) -> str:
    """ "dense" or "cnn": the family of the entry's architecture (cnn_quick is a CNN too)."""
    arch = str((entry.card or {}).get("architecture", entry.name))
    return "cnn" if arch.startswith("cnn") else "dense" if arch == "dense" else arch


def _pair(entry: modelio.ModelEntry, by_name: dict[str, modelio.ModelEntry]):
    """(dense entry, cnn entry) to compare: the chosen model and the shipped other kind."""
    kind = _kind(entry)
    dense = entry if kind == "dense" else by_name.get("dense")
    cnn = entry if kind == "cnn" else by_name.get("cnn")
    return dense, cnn


def _first_member(entry: modelio.ModelEntry) -> str:
    """Where a model is an ensemble, the words that say only its first network is shown."""
    members = (entry.card or {}).get("members")
    n = len(members) if isinstance(members, list) else 1
    return f" (the first of its {n} networks, m0)" if n > 1 else ""


def _disagreements(entry, by_name, mnist) -> None:
    dense, cnn = _pair(entry, by_name)
    st.subheader("Where the dense network and the CNN disagree")
    if dense is None or cnn is None or None in (load_predictor(e.path).predictor for e in (dense, cnn)):
        st.caption("Needs a dense and a CNN model file that load.")
        return
    st.caption(
        f"Comparing **{md(dense.name)}** (dense) with **{md(cnn.name)}** (CNN), surest disagreements first."
    )
    pd_ = _test_probabilities(str(dense.path.resolve()), _mtime(dense.path))
    pc = _test_probabilities(str(cnn.path.resolve()), _mtime(cnn.path))
    idx = introspect.disagreements(pd_, pc)
    wrong_d, wrong_c = pd_.argmax(1) != mnist.y_test, pc.argmax(1) != mnist.y_test
    both_wrong = int((wrong_d & wrong_c).sum())
    same_wrong = int((wrong_d & (pd_.argmax(1) == pc.argmax(1))).sum())
    # Of all the test images, not of the disagreements: said so (a tester read "30 of the 91", qa26).
    st.caption(
        f"They disagree on {len(idx):,} of {len(mnist.y_test):,} test images. Of all {len(mnist.y_test):,}, "
        f"both are wrong on {both_wrong:,}: {same_wrong:,} with the same wrong digit, "
        f"{both_wrong - same_wrong:,} with different ones."
    )
    idx = idx[:GALLERY]
    st.image(
        [mnist.x_test[i] for i in idx],
        width=TILE_PX,
        caption=[f"true {mnist.y_test[i]} · D {pd_[i].argmax()} · C {pc[i].argmax()}" for i in idx],
    )


# -- Data ----------------------------------------------------------------------------------------------


def _data() -> None:
    mnist = _mnist_or_none()
    if mnist is None:
        return
    grid, train_counts, test_counts = _class_overview(mnist.source)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Samples of each digit")
        st.image(grid, caption="Rows: digits 0 to 9; twelve random training images each.", width="stretch")
    with right:
        st.subheader("Images per digit")
        # Digits as text: ten categories side by side, not a number line.
        digits = pd.Index([str(d) for d in range(10)], name="digit")
        frame = pd.DataFrame({"training": train_counts, "test": test_counts}, index=digits)
        st.bar_chart(frame, x_label="digit", y_label="images", stack=False, height=300)
        st.caption(
            f"{len(mnist.y_train):,} training and {len(mnist.y_test):,} test images, 28×28 pixels, "
            f"white digits on black. Source: `{mnist.source}`."
        )


# -- Manage models: rename and delete those trained here --------------------------------------------


def _may_manage() -> bool:
    """Renaming and deleting are for whoever may train: the Train page's switch and password."""
    if not config.TRAINING_ENABLED:
        return False
    password = train_page._required_password()
    return (
        not password
        or st.session_state.get(train_page.UNLOCK_KEY) == hashlib.sha256(password.encode()).hexdigest()
    )


def _manage(entry: modelio.ModelEntry, any_trained: bool) -> None:
    """Rename or delete the model chosen at the top: one picker, so what is managed is what is shown."""
    name = entry.name
    # Keyed: it stays open when the page above it changes (after a delete, to the first model).
    with st.expander("Manage models", icon=":material/folder_managed:", key="inspect_manage"):
        notice = st.session_state.pop(MANAGE_NOTICE_KEY, None)
        if notice:
            st.success(notice, icon=":material/check_circle:")
        if not any_trained:
            st.caption("No models trained here yet. The shipped models cannot be renamed or deleted.")
            return
        if not _may_manage():
            st.caption(
                "Renaming and deleting models needs training access: unlock the **Train** page first."
                if config.TRAINING_ENABLED
                else "Training is switched off on this server, and with it renaming and deleting models."
            )
            return
        if entry.shipped:
            st.caption(
                f"**{md(name)}** is shipped with the app: it cannot be renamed or deleted. "
                "Choose a model trained here under **Model** above."
            )
            return
        st.markdown(f"Rename or delete **{md(name)}**, the model chosen above.")
        rename_col, delete_col = st.columns([3, 2], vertical_alignment="bottom")
        new_name = rename_col.text_input("New name", key=NEW_NAME_KEY, max_chars=modelio.MAX_NAME_LENGTH)
        if rename_col.button("Rename", key="inspect_rename", icon=":material/edit:", disabled=not new_name):
            _do(
                lambda: (modelio.rename_model(name, new_name), record_rename(name, new_name)),
                f"Renamed **{md(name)}** to **{md(new_name)}**.",
                show=new_name,
            )
        if st.session_state.get(MANAGE_CONFIRM_KEY) != name:
            if delete_col.button("Delete…", key="inspect_delete", icon=":material/delete:"):
                st.session_state[MANAGE_CONFIRM_KEY] = name
                st.rerun()
            return
        st.warning(
            f"Delete **{md(name)}** and its card for good? This cannot be undone.", icon=":material/warning:"
        )
        yes, no = st.columns(2)
        if yes.button("Yes, delete it", key="inspect_delete_confirm", type="primary"):
            st.session_state.pop(MANAGE_CONFIRM_KEY, None)
            _do(lambda: modelio.delete_model(name), f"Deleted **{md(name)}**.", show=None)
        if no.button("Keep it", key="inspect_delete_cancel"):
            st.session_state.pop(MANAGE_CONFIRM_KEY, None)
            st.rerun()


def _do(action, done: str, show: str | None) -> None:
    """Run a rename or delete; on success rerun showing model `show` (None: the first) with the
    notice and an empty name box, on refusal show why (as written: a name may hold * or $)."""
    try:
        action()
    except (modelio.ModelFileError, OSError) as exc:
        st.error(md(str(exc)), icon=":material/error:")
        return
    st.session_state[MANAGE_NOTICE_KEY] = done
    st.session_state[MANAGE_NEXT_KEY] = show
    st.rerun()


def _keep_section() -> None:
    """A click on the section shown would turn the control off (no section chosen, the Overview shown
    under no name: a tester, qa26): it stays on instead."""
    if st.session_state.get(SECTION_KEY) is None:
        st.session_state[SECTION_KEY] = st.session_state.get(LAST_SECTION_KEY, SECTIONS[0])


def _after_manage(first: str) -> None:
    """After a rename or delete, before the widgets are drawn: the picker shows the renamed model
    (after a delete, `first`), and the name box is empty for the next name. Set, not popped: only
    a value set in session state is sent to the browser, which otherwise keeps showing its own."""
    if MANAGE_NEXT_KEY not in st.session_state:
        return
    show = st.session_state.pop(MANAGE_NEXT_KEY)
    st.session_state[MODEL_KEY] = first if show is None else show
    st.session_state[NEW_NAME_KEY] = ""


# -- Export: the model as a download for serving outside Keras ---------------------------------------


def _export(entry: modelio.ModelEntry) -> None:
    st.subheader("Export for serving outside Keras")
    st.caption(
        "A SavedModel serves under TensorFlow Serving as it is; TFLite (LiteRT) runs on phones and "
        "small devices, int8 at about a quarter of the size; ONNX runs in onnxruntime, in the "
        "browser too. Each export is checked in its own runtime against this model on the first "
        f"{export.PARITY_IMAGES:,} MNIST test images before it is offered."
    )
    choice = st.radio("Format", list(EXPORT_CHOICES), horizontal=True, key="inspect_export_format")
    # Which export is wanted: a file replaced at the same path (retrained) is another model.
    wanted = [str(entry.path.resolve()), _mtime(entry.path), choice]
    if st.button("Prepare download", key="inspect_export_prepare", icon=":material/archive:"):
        st.session_state.pop(EXPORT_KEY, None)
        with st.spinner(f"Exporting {md(entry.name)} as {choice} and checking it…"):
            prepared = _prepare_export(entry, *EXPORT_CHOICES[choice])
        if isinstance(prepared, str):
            st.error(prepared, icon=":material/error:")
            return
        st.session_state[EXPORT_KEY] = {"for": wanted, **prepared}
    ready = st.session_state.get(EXPORT_KEY)
    if not ready or ready["for"] != wanted:
        return
    card, parity = ready["card"], ready["card"]["parity"]
    left, right = st.columns([2, 3], vertical_alignment="top")
    left.download_button(
        f"Download {md(ready['file_name'])}",  # a label is Markdown; the name is the model's
        ready["content"],
        file_name=ready["file_name"],
        mime="application/zip" if ready["file_name"].endswith(".zip") else "application/octet-stream",
        key="inspect_export_download",
        icon=":material/download:",
        type="primary",
    )
    # The export's own size, and the download's where it is a zip of a folder (they differed unsaid: qa26).
    size = f"{card['size_bytes'] / 1e6:.2f} MB"
    if ready["file_name"].endswith(".zip"):
        size = f"{len(ready['content']) / 1e6:.2f} MB zipped, {size} unzipped"
    left.caption(f"{size} · checked in {card['runtime']}")
    figures = right.columns(3)
    figures[0].metric("Same digit as Keras", f"{parity['same_digit']:.2%}")
    if card["quantize"]:
        # Signed, as a change: an int8 export may read a few more test images right ("lost -0.10": qa26).
        change = -parity["accuracy_drop"] * 100
        figures[1].metric("Accuracy change", f"{change:+.2f} points" if round(change, 2) else "none")
    else:
        figures[1].metric("Largest probability difference", f"{parity['max_probability_difference']:.1e}")
    figures[2].metric("Export accuracy", f"{parity['export_accuracy']:.2%}")
    if card["meets_targets"]:
        right.caption(f"Meets its targets on {parity['images']:,} MNIST test images.")
    else:
        right.warning(
            f"This export misses its targets on {parity['images']:,} MNIST test images "
            f"(targets: {json.dumps({k: v for k, v in card['targets'].items() if v is not None})}).",
            icon=":material/warning:",
        )
    with st.expander("The export card (JSON)"):
        st.code(json.dumps(card, indent=2), language="json")


def _prepare_export(entry: modelio.ModelEntry, fmt: str, quantize: str | None) -> dict | str:
    """Export into a temporary folder and read it back as a download: {"file_name", "content",
    "card"}, or what went wrong in words for a person."""
    work = Path(tempfile.mkdtemp(prefix="digitdraw-export-"))
    out = work / (entry.name + (f"-{quantize}" if quantize else "") + export.SUFFIXES[fmt])
    try:
        card = export.run_export(entry.path, fmt, out, quantize)
        file_name, content = export.as_download(out)
    except (export.ExportError, modelio.ModelFileError, data.DataError) as exc:
        return f"Cannot export **{md(entry.name)}**: {md(str(exc))}"
    except Exception as exc:  # a converter's own failure: said, and the page goes on
        return f"The export of **{md(entry.name)}** failed: {md(f'{type(exc).__name__}: {exc}')}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"file_name": file_name, "content": content, "card": card}


# -- Inside the model -----------------------------------------------------------------------------------


def _current_drawing() -> np.ndarray | None:
    """The Draw page's last 28x28 input, or None when the canvas holds nothing (any more).

    The Draw page removes (or sets None) DRAWING_KEY when its canvas is cleared or empty; an
    empty or malformed value is treated the same way, so a stale drawing is never shown.
    """
    drawing = st.session_state.get(DRAWING_KEY)
    if drawing is None:
        return None
    drawing = np.asarray(drawing, np.float32)
    if drawing.size != 28 * 28 or not np.any(drawing > 0):
        return None
    return drawing.reshape(28, 28)


def _chosen_image() -> tuple[np.ndarray | None, str]:
    drawing = _current_drawing()
    options = (["Your drawing"] if drawing is not None else []) + ["An MNIST test image"]
    source = st.radio("Input", options, horizontal=True, key="inspect_source")
    if source == "Your drawing":
        return drawing, "your drawing"
    if drawing is None and st.session_state.get(NUMBER_DRAWN_KEY):
        st.caption(
            "Your drawing on the **Draw** page is several digits; the model is looked into one digit at "
            "a time. Draw a single digit there to see it here."
        )
    elif drawing is None:
        st.caption("Draw a digit on the **Draw** page to see your own drawing here.")
    try:
        mnist = data.load_mnist()
    except data.DataError as exc:
        st.warning(_no_mnist(exc), icon=":material/folder_off:")
        return None, ""
    i = st.number_input("Test image number", 0, len(mnist.x_test) - 1, 0, key="inspect_index")
    return data.to_model_input(mnist.x_test[int(i)]), f"test image {int(i)} (a {mnist.y_test[int(i)]})"


def _inside(entry: modelio.ModelEntry, by_name: dict[str, modelio.ModelEntry]) -> None:
    image, what = _chosen_image()
    if image is None:
        return
    dense_entry, cnn_entry = _pair(entry, by_name)
    models = {}
    for kind, e in (("dense", dense_entry), ("cnn", cnn_entry)):
        loaded = load_predictor(e.path) if e is not None else None
        if loaded is not None and loaded.predictor is not None:
            models[kind] = (e, loaded.predictor)

    st.subheader(f"Where each model looks: saliency on {what}")
    st.caption(
        "The gradient of the predicted digit's log-probability with respect to each input pixel: "
        "bright pixels are those that would change the answer most."
    )
    cols = st.columns(1 + len(models))
    cols[0].image(results.enlarge(image, 6), caption="input (28×28)", width=168, clamp=True)
    for col, (kind, (e, predictor)) in zip(cols[1:], models.items(), strict=True):
        sal, digit = introspect.saliency(predictor.model, image)
        prob = float(predictor.probabilities(image)[0, digit])
        col.image(
            results.enlarge(introspect.saliency_overlay(image, sal), 6),
            width=168,
            caption=f"{md(e.name)}{'' if e.name == kind else f' ({kind})'}: {digit}, {prob:.0%}",  # Markdown
        )

    if what == "your drawing":
        _pen_path(image, models)

    if "cnn" in models:
        e, predictor = models["cnn"]
        model = predictor.model
        st.subheader(f"Feature maps of {md(e.name)}")
        st.caption(
            "What each convolution block passes on (after batch norm and ReLU), one tile per "
            "channel, brighter is stronger. Later layers see coarser, more abstract patterns."
        )
        for label, maps in introspect.feature_maps(model, image).items():
            h, _, c = maps.shape
            tiles = introspect.normalize(np.moveaxis(maps, -1, 0))
            grid = introspect.tile_grid(_upscale_all(tiles, max(1, 56 // h)), cols=16, pad=2, fill=0.25)
            st.image(grid, caption=f"{label}: {c} channels of {h}×{h}", width="stretch", clamp=True)
        filters = introspect.first_layer_filters(model)
        if filters is not None:
            st.subheader("First-layer filters")
            kh, kw = filters.shape[1:]
            st.caption(
                f"The {kh}×{kw} kernels of the first convolution{_first_member(e)}; red adds, blue "
                "subtracts brightness."
            )
            tiles = np.stack([introspect.diverging_rgb(f) for f in filters])
            st.image(introspect.tile_grid(_upscale_all(tiles, 16), cols=16, pad=4, fill=235), width="stretch")

    if "dense" in models:
        e, predictor = models["dense"]
        tiles = introspect.dense_weight_tiles(predictor.model)
        if tiles is not None:
            st.subheader(f"First-layer weights of {md(e.name)}")
            st.caption(
                f"Each of its {len(tiles)} hidden units{_first_member(e)} as a 28×28 picture of its "
                "weights: red pixels push the unit up, blue pixels push it down."
            )
            rgb = np.stack([introspect.diverging_rgb(t) for t in tiles])
            st.image(introspect.tile_grid(_upscale_all(rgb, 2), cols=16, pad=2, fill=235), width="stretch")


def _current_strokes() -> list[np.ndarray] | None:
    """The strokes the Draw page's last single digit was read with, or None (a picture, a number,
    nothing drawn, or a malformed value)."""
    strokes = st.session_state.get(DRAWING_STROKES_KEY)
    try:
        out = [np.asarray(s, np.float64).reshape(-1, 2) for s in strokes or ()]
    except (TypeError, ValueError):
        return None
    return out if any(len(s) for s in out) else None


def _pen_path(image: np.ndarray, models: dict[str, tuple[modelio.ModelEntry, Predictor]]) -> None:
    """The second witness: what each model's pen-path reader makes of the strokes, beside its pixels'
    answer and the answer the Draw page shows (the two pooled)."""
    strokes = _current_strokes()
    readers = {kind: (e, p) for kind, (e, p) in models.items() if p.pen_path is not None}
    if strokes is None or not readers:
        return
    st.subheader("The pen's path: a second witness")
    st.caption(
        "A picture loses how it was drawn. Each model's pen-path reader reads your strokes in the order "
        "and direction you drew them: 64 points at equal steps along the line, blue where the pen began "
        "(ringed) to orange where it ended, a grey line where it jumped to the next stroke. The answer "
        "on the Draw page pools the two witnesses; where they surely name different digits, the model "
        "says it is not a digit."
    )
    cols = st.columns(1 + len(readers))
    picture = introspect.path_picture(penpath.sequence(strokes))
    cols[0].image(picture, caption="the path the reader reads", width=168)
    for col, (kind, (e, predictor)) in zip(cols[1:], readers.items(), strict=True):
        # One call: the drawing from its pixels alone, then with its strokes, as the Draw page reads it.
        both = predictor.outputs(np.stack([image, image]), [None, strokes])
        pixels, pooled = both.probabilities
        path = predictor.pen_path.probabilities([strokes])[0]  # the call above's, kept by the reader
        lines = [
            f"**{md(e.name)}**" + ("" if e.name == kind else f" ({kind})"),
            f"pixels alone: {int(pixels.argmax())} ({pixels.max():.0%})",
            f"pen's path alone: {int(path.argmax())} ({path.max():.0%})",
            f"together, as the Draw page shows: {int(pooled.argmax())} ({pooled.max():.0%})",
        ]
        if both.not_a_digit is not None and both.not_a_digit[1]:
            lines.append(":material/block: refused as not a digit")
        col.markdown("  \n".join(lines))


def _upscale_all(tiles: np.ndarray, factor: int) -> np.ndarray:
    return np.stack([results.enlarge(t, factor) for t in tiles])

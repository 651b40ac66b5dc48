"""The Inspect page: what a model is, how well it does, and what happens inside it.

The numbers come from digitdraw.introspect and digitdraw.evaluate; this file lays them out.
Evaluations are cached per model file (path and mtime), so a rerun never re-scores 10,000
images; only the section shown is computed.
"""

from __future__ import annotations

import json
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from digitdraw import config, data, introspect, modelio, results
from digitdraw.evaluate import Evaluation, score
from digitdraw.ui.draw_page import DRAWING_KEY
from digitdraw.ui.models import load_predictor

SECTIONS = ("Overview", "Test set", "Data", "Inside the model")
GALLERY = 24  # images per gallery
TILE_PX = 84  # a 28x28 image shown at 3x


def page() -> None:
    st.title("Inspect a model")
    entries = modelio.available_models()
    if not entries:
        st.warning(f"No model files found in {config.SHIPPED_MODELS_DIR} or {config.user_models_dir()}.")
        return
    by_name = {e.name: e for e in entries}
    top_left, top_right = st.columns([2, 3], vertical_alignment="bottom")
    name = top_left.selectbox(
        "Model", list(by_name), key="inspect_model", format_func=lambda n: by_name[n].label
    )
    # Set through session state, not `default`: tests and links may preset the section.
    st.session_state.setdefault("inspect_section", SECTIONS[0])
    section = top_right.segmented_control("Show", SECTIONS, key="inspect_section") or SECTIONS[0]
    entry = by_name[name]
    loaded = load_predictor(entry.path)
    if loaded.predictor is None:
        st.error(f"Model **{name}** cannot be loaded: {loaded.error}", icon="⚠️")
        return
    if section == "Test set":
        _test_set(entry, by_name)
    elif section == "Data":
        _data()
    elif section == "Inside the model":
        _inside(entry, by_name)
    else:
        _overview(entry, loaded.predictor.model)


# -- Cached computations ---------------------------------------------------------------------------


def _mtime(path: Path) -> int:
    return path.stat().st_mtime_ns


def _mnist_or_none():
    try:
        return data.load_mnist()
    except data.DataError as exc:
        st.warning(f"The MNIST data is not available here, so this part is skipped: {exc}", icon="📭")
        return None


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


def _overview(entry: modelio.ModelEntry, model) -> None:
    card = entry.card or {}
    if not card:
        st.info("This model has no card beside it: only its layers can be shown.")
    cols = st.columns(4)
    cols[0].metric(
        "Architecture",
        card.get("architecture", model.name),
        help=f"Built with the {str(card.get('api', '?')).capitalize()} API.",
    )
    cols[1].metric("Parameters", f"{model.count_params():,}")
    acc = card.get("test_accuracy")
    cols[2].metric("MNIST test accuracy", f"{acc:.2%}" if isinstance(acc, float) else "–")
    drawn = (card.get("drawn_digit_accuracy") or {}).get("accuracy")
    cols[3].metric(
        "Drawn-digit accuracy",
        f"{drawn:.2%}" if isinstance(drawn, float) else "–",
        help="Real pen strokes of writers the model never saw, through the app's preprocessing.",
    )
    if card:
        trained = card.get("data", {}).get("train_images")
        st.caption(
            f"{str(card.get('api', '?')).capitalize()} API · "
            f"trained {card.get('epochs', '?')} epochs on {trained:,} images in "
            f"{card.get('training_seconds', '?')} s · created {card.get('created', '?')} · "
            f"{'shipped with the app' if entry.shipped else 'trained here'} · `{entry.path.name}`"
            if isinstance(trained, int)
            else f"`{entry.path.name}`"
        )

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Layers")
        st.dataframe(pd.DataFrame(introspect.layer_rows(model)), hide_index=True, width="stretch")
    with right:
        st.subheader("Training curves")
        history = card.get("history") or {}
        if history.get("loss"):
            frame = pd.DataFrame(history)
            frame["epoch"] = np.arange(1, len(frame) + 1)
            for metric in ("loss", "accuracy"):
                columns = [c for c in frame.columns if c.endswith(metric)]
                st.line_chart(frame, x="epoch", y=columns, y_label=metric, height=200)
        else:
            st.caption("The card records no training history.")
    if card:
        with st.expander("The whole model card (JSON)"):
            st.code(json.dumps(card, indent=2), language="json")


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


def _pair(entry: modelio.ModelEntry, by_name: dict[str, modelio.ModelEntry]):
    """(dense entry, cnn entry) to compare: the chosen model and the shipped other kind."""
    arch = (entry.card or {}).get("architecture", entry.name)
    dense = entry if arch == "dense" else by_name.get("dense")
    cnn = entry if arch == "cnn" else by_name.get("cnn")
    return dense, cnn


def _disagreements(entry, by_name, mnist) -> None:
    dense, cnn = _pair(entry, by_name)
    st.subheader("Where the dense network and the CNN disagree")
    if dense is None or cnn is None:
        st.caption("Needs a dense and a CNN model file.")
        return
    st.caption(f"Comparing **{dense.name}** (dense) with **{cnn.name}** (CNN), surest disagreements first.")
    pd_ = _test_probabilities(str(dense.path.resolve()), _mtime(dense.path))
    pc = _test_probabilities(str(cnn.path.resolve()), _mtime(cnn.path))
    idx = introspect.disagreements(pd_, pc)
    both_wrong = int(((pd_.argmax(1) != mnist.y_test) & (pc.argmax(1) != mnist.y_test)).sum())
    st.caption(
        f"They disagree on {len(idx):,} of {len(mnist.y_test):,} test images; "
        f"both are wrong on {both_wrong:,}."
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


# -- Inside the model -----------------------------------------------------------------------------------


def _chosen_image() -> tuple[np.ndarray | None, str]:
    drawing = st.session_state.get(DRAWING_KEY)
    options = (["Your drawing"] if drawing is not None else []) + ["An MNIST test image"]
    source = st.radio("Input", options, horizontal=True, key="inspect_source")
    if source == "Your drawing":
        return np.asarray(drawing, np.float32).reshape(28, 28), "your drawing"
    if drawing is None:
        st.caption("Draw a digit on the **Draw** page to see your own drawing here.")
    try:
        mnist = data.load_mnist()
    except data.DataError as exc:
        st.warning(f"No MNIST data here: {exc}")
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
            caption=f"{e.name} ({kind}): {digit}, {prob:.0%}",
        )

    if "cnn" in models:
        e, predictor = models["cnn"]
        model = predictor.model
        st.subheader(f"Feature maps of {e.name}")
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
            st.caption("The 3×3 kernels of the first convolution; red adds, blue subtracts brightness.")
            tiles = np.stack([introspect.diverging_rgb(f) for f in filters])
            st.image(introspect.tile_grid(_upscale_all(tiles, 16), cols=16, pad=4, fill=235), width="stretch")

    if "dense" in models:
        e, predictor = models["dense"]
        tiles = introspect.dense_weight_tiles(predictor.model)
        if tiles is not None:
            st.subheader(f"First-layer weights of {e.name}")
            st.caption(
                f"Each of its {len(tiles)} hidden units as a 28×28 picture of its weights: red pixels "
                "push the unit up, blue pixels push it down."
            )
            rgb = np.stack([introspect.diverging_rgb(t) for t in tiles])
            st.image(introspect.tile_grid(_upscale_all(rgb, 2), cols=16, pad=2, fill=235), width="stretch")


def _upscale_all(tiles: np.ndarray, factor: int) -> np.ndarray:
    return np.stack([results.enlarge(t, factor) for t in tiles])

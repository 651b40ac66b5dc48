"""Confidence that means what it says: temperature scaling, calibration measures, and refusing
drawings that are not digits. Pure numpy: it works on the probabilities the models give.

Temperature scaling (Guo et al. 2017) divides a model's logits by one number T fitted to
minimise the negative log-likelihood on held-out data; the digit it names never changes, only
how sure it says it is. The shipped models end in a softmax, so the logits are not at hand, but
log-probabilities are the logits minus one constant per image, and softmax ignores that
constant: softmax(log p / T) is exactly softmax(logits / T). Only where float32 rounded a
probability to 0 is anything lost (clipped at _TINY, a logit gap of about 87).

Which data calibrates, and its bias: the shipped models trained on pen writers 1-24 (and MNIST),
so their answers there are over-confident and fit a T that is too small. Writers 25-30 are the
held-out report set, and the only held-out pen writers there are, so T is fitted on them, on
renderings other than those reported on (bench/honest.py fits on one rendering seed and reports
on another, and also fits on five writers and reports on the sixth, in turn). The same writers
appear on both sides of the first split, so its report flatters a little; the leave-one-writer-out
figure does not.

Not a digit: an out-of-distribution score per drawing (higher = less like a digit) and a
threshold chosen on real digits the detector never saw. Scores: one minus the top probability
(cheap, but a network is often sure of nonsense); the Mahalanobis distance of the network's
penultimate features to the nearest digit class (Lee et al. 2018), which sees that a scribble
lands far from every digit; and a learnt one, NotDigitHead, a small network on the same
frozen features (and, in the joint detector the app uses, their log Mahalanobis distance and
how unsure the model's own answer is: confidence_input), fitted on digits and on the "train"
family of digitdraw.nondigits (never on the "bench" family it is measured on).
NotADigit.cross_fitted takes the threshold from scores of writers left out of the fit, so that
it holds for new writers (digitdraw.calibrate_model: writers 1-24 only, and distorted copies of
their digits, shapes the networks never trained on).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

BINS = 15  # equal-width confidence bins for ECE and reliability figures
SURE = 0.9  # "confident": what the targets call an answer shown with >= 90% confidence
_TINY = 1e-38  # float32 softmax rounds to 0 below about this
_T_BOUNDS = (0.05, 20.0)


def _check(
    probabilities: np.ndarray, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"expected (n, classes) probabilities, got shape {p.shape}")
    if labels is None:
        return p, None
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(y) != len(p):
        raise ValueError(f"{len(p)} rows of probabilities but {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError(f"labels must be 0..{p.shape[1] - 1}")
    return p, y


def scale(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities as the same model would give them with its logits divided by `temperature`."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, not {temperature}")
    p, _ = _check(probabilities)
    z = np.log(np.clip(p, _TINY, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def nll(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels."""
    p, y = _check(probabilities, labels)
    return float(-np.log(np.clip(p[np.arange(len(y)), y], _TINY, 1.0)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The T in [0.05, 20] that minimises the NLL of scale(probabilities, T).

    The NLL is convex in 1/T (a log-sum-exp of lines minus a line), so a golden-section search
    over log T finds the one minimum.
    """
    p, y = _check(probabilities, labels)
    if not len(y):
        raise ValueError("fit_temperature needs at least one labelled example")
    z = np.log(np.clip(p, _TINY, 1.0))
    true = z[np.arange(len(y)), y]

    def loss(log_t: float) -> float:
        s = z / np.exp(log_t)
        top = s.max(axis=1)
        return float((top + np.log(np.exp(s - top[:, None]).sum(axis=1)) - true / np.exp(log_t)).mean())

    lo, hi = np.log(_T_BOUNDS[0]), np.log(_T_BOUNDS[1])
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = loss(a), loss(b)
    while hi - lo > 1e-4:
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = loss(b)
    return float(np.exp((lo + hi) / 2))


# --------------------------------------------------------------------------- measures


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    confidence: float  # mean top probability in the bin (nan when empty)
    accuracy: float  # share right in the bin (nan when empty)


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[Bin]:
    """Equal-width bins of the top probability: how sure the model said it was vs how often right."""
    p, y = _check(probabilities, labels)
    conf = p.max(axis=1)
    right = p.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin k holds (edges[k], edges[k+1]]; a confidence of exactly 0 goes to the first.
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    out = []
    for k in range(bins):
        m = which == k
        n = int(m.sum())
        out.append(
            Bin(
                float(edges[k]),
                float(edges[k + 1]),
                n,
                float(conf[m].mean()) if n else float("nan"),
                float(right[m].mean()) if n else float("nan"),
            )
        )
    return out


def ece(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: the count-weighted mean |accuracy - confidence| over the bins."""
    table = reliability(probabilities, labels, bins)
    total = sum(b.count for b in table)
    if not total:
        raise ValueError("ece needs at least one example")
    return float(sum(b.count * abs(b.accuracy - b.confidence) for b in table if b.count) / total)


def confident_accuracy(
    probabilities: np.ndarray, labels: np.ndarray, level: float = SURE
) -> tuple[float, float]:
    """(accuracy of the answers with top probability >= level, share of answers that are such)."""
    p, y = _check(probabilities, labels)
    sure = p.max(axis=1) >= level
    if not sure.any():
        return float("nan"), 0.0
    return float((p[sure].argmax(axis=1) == y[sure]).mean()), float(sure.mean())


def confidently_wrong(probabilities: np.ndarray, labels: np.ndarray, level: float = SURE) -> float:
    """Share of ALL answers that are wrong yet have top probability >= level."""
    p, y = _check(probabilities, labels)
    return float(((p.max(axis=1) >= level) & (p.argmax(axis=1) != y)).mean())


def reliability_spec(table: list[Bin], title: str = "") -> dict:
    """A Vega-Lite reliability diagram (bars: accuracy per confidence bin; the diagonal: perfect)."""
    values = [
        {"confidence": (b.low + b.high) / 2, "accuracy": b.accuracy, "count": b.count}
        for b in table
        if b.count
    ]
    axis = {"type": "quantitative", "scale": {"domain": [0, 1]}, "axis": {"format": "%"}}
    return {
        "title": title,
        "width": 260,
        "height": 260,
        "layer": [
            {
                "data": {"values": values},
                "mark": {"type": "bar", "width": {"band": 0.9}},
                "encoding": {
                    "x": {"field": "confidence", "title": "confidence (bin centre)", **axis},
                    "y": {"field": "accuracy", "title": "accuracy", **axis},
                    "tooltip": [{"field": "count", "type": "quantitative"}],
                },
            },
            {
                "data": {"values": [{"x": 0, "y": 0}, {"x": 1, "y": 1}]},
                "mark": {"type": "line", "strokeDash": [4, 4], "color": "grey"},
                "encoding": {"x": {"field": "x", **axis}, "y": {"field": "y", **axis}},
            },
        ],
    }


# --------------------------------------------------------------------------- not a digit


def top_probability_score(probabilities: np.ndarray) -> np.ndarray:
    """One minus the top probability: higher = less like any digit."""
    p, _ = _check(probabilities)
    return (1.0 - p.max(axis=1)).astype(np.float64)


@dataclass(frozen=True)
class Mahalanobis:
    """Distance of penultimate-layer features to the nearest class mean (shared covariance)."""

    means: np.ndarray  # (classes, d)
    precision: np.ndarray  # (d, d)

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, shrinkage: float = 0.01) -> Mahalanobis:
        f = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels).astype(np.int64)
        if f.ndim != 2 or len(f) != len(y) or not len(y):
            raise ValueError("Mahalanobis.fit needs (n, d) features and n labels, n > 0")
        classes = np.unique(y)
        means = np.stack([f[y == c].mean(axis=0) for c in range(int(classes.max()) + 1)])
        centred = f - means[y]
        cov = centred.T @ centred / len(f)
        # Shrink toward a scaled identity: ReLU features have dead, constant units (zero variance).
        cov = (1 - shrinkage) * cov + shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))
        return cls(means, np.linalg.inv(cov))

    @cached_property
    def _mm(self) -> np.ndarray:
        """mPm for each class mean: fixed for a detector, so computed once. Per drawing, this
        (10, d) x (d, d) product was spread by OpenBLAS over threads whose spin-wait then cost
        ~55 ms of CPU for each drawing (an ensemble's d = 384 crosses its threading threshold)."""
        return np.einsum("cd,cd->c", self.means @ self.precision, self.means)

    def score(self, features: np.ndarray) -> np.ndarray:
        """Squared distance to the nearest class mean: higher = less like any digit."""
        f = np.asarray(features, dtype=np.float64)
        # (f - m) P (f - m) = fPf - 2 fPm + mPm, for all classes at once.
        fp = f @ self.precision
        ff = np.einsum("nd,nd->n", fp, f)
        return (ff[:, None] - 2 * fp @ self.means.T + self._mm[None]).min(axis=1)

    def as_dict(self) -> dict:
        return {"means": self.means.tolist(), "precision": self.precision.tolist()}


def refusal_threshold(digit_scores: np.ndarray, max_refused: float = 0.01) -> float:
    """The score above which a drawing is refused, so that at most `max_refused` of these real
    digits are (scores strictly above the threshold are refused)."""
    s = np.sort(np.asarray(digit_scores, dtype=np.float64).reshape(-1))
    if not len(s):
        raise ValueError("refusal_threshold needs the scores of some real digits")
    if not 0 <= max_refused < 1:
        raise ValueError(f"max_refused must be in [0, 1), not {max_refused}")
    allowed = int(np.floor(max_refused * len(s)))  # how many may lie above
    return float(s[len(s) - 1 - allowed])


HEAD_HIDDEN = 64  # the head's hidden units (0: a logistic regression)


@dataclass(frozen=True)
class NotDigitHead:
    """A small network "not a digit" on a network's frozen features: what an 11th class would
    learn, without retraining the network. One hidden layer of ReLUs, or none (a logistic
    regression); fitted on digits (label 0) and synthetic non-digits (label 1,
    digitdraw.nondigits' "train" family); its score is the log-odds.

    The hidden layer: with it, the dense's detector refused 80% of the kinds of non-digit it
    was not fitted on (each kind of the train family left out in turn) where the logistic
    regression refused 77.5%, at the same share of new writers' digits refused
    (docs/experiments.md, "Twenty-fifth session")."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (h + 1,) the output layer, the last one the bias (h = d without a hidden layer)
    hidden: np.ndarray | None = None  # (d + 1, h) the hidden layer, the last row the biases

    @classmethod
    def fit(
        cls,
        digits: np.ndarray,
        others: np.ndarray,
        l2: float | None = None,
        hidden: int | None = None,
        seed: int = 0,
    ) -> NotDigitHead:
        """Each side weighs half, however many of each: the scores' scale then does not move with
        the number of digits (NotADigit.cross_fitted compares heads fitted on different shares).
        l2: the weights' penalty (None: 1e-2 for a logistic regression, 1e-3 for the network).
        hidden: the hidden units (None: HEAD_HIDDEN; 0: a logistic regression)."""
        x = np.concatenate([np.asarray(digits, np.float64), np.asarray(others, np.float64)])
        y = np.concatenate([np.zeros(len(digits)), np.ones(len(others))])
        if x.ndim != 2 or not len(digits) or not len(others):
            raise ValueError("NotDigitHead.fit needs (n, d) features of some digits and some non-digits")
        weight = np.where(y == 1, 0.5 / len(others), 0.5 / len(digits))
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = (x - mean) / scale
        hidden = HEAD_HIDDEN if hidden is None else hidden
        if hidden:
            w1, w = _fit_network(z, y, weight, hidden, 1e-3 if l2 is None else l2, seed)
            return cls(mean, scale, w, w1)
        return cls(mean, scale, _fit_logistic(z, y, weight, 1e-2 if l2 is None else l2))

    def score(self, features: np.ndarray) -> np.ndarray:
        """Log-odds of "not a digit": higher = less like any digit."""
        f = (np.asarray(features, np.float64) - self.mean) / self.scale
        if self.hidden is not None:
            f = np.maximum(f @ self.hidden[:-1] + self.hidden[-1], 0.0)
        return f @ self.weights[:-1] + self.weights[-1]


def _fit_logistic(z: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float, steps: int = 25) -> np.ndarray:
    """Weighted, ridge-penalised logistic regression by Newton's method (the loss is convex, a few
    steps converge): (d + 1,) weights, the last the bias (not shrunk)."""
    z = np.c_[z, np.ones(len(z))]
    w = np.zeros(z.shape[1])
    ridge = l2 * np.eye(len(w))
    ridge[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (weight * (p - y)) + ridge @ w
        hess = (z * (weight * p * (1 - p))[:, None]).T @ z + ridge
        w = w - np.linalg.solve(hess, grad)
    return w


def _fit_network(
    z: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    hidden: int,
    l2: float,
    seed: int,
    epochs: int = 10,
    batch: int = 256,
    rate: float = 1e-3,
    min_steps: int = 2000,
) -> tuple[np.ndarray, np.ndarray]:
    """One hidden layer of ReLUs, a logit out: weighted cross-entropy plus l2 on the weights (not the
    biases), Adam, seeded (Glorot-uniform start, shuffled batches), in numpy: a few seconds for the
    tens of thousands of drawings calibration fits on. `epochs`, or more where that is under
    `min_steps` batches (a few hundred examples need many passes). Returns (the hidden layer,
    (d + 1, h), and the output layer, (h + 1,)), the biases last."""
    rng = np.random.default_rng(seed)
    n, d = z.shape
    limit = np.sqrt(6.0 / (d + hidden)), np.sqrt(6.0 / (hidden + 1))
    params = [
        rng.uniform(-limit[0], limit[0], (d, hidden)),
        np.zeros(hidden),
        rng.uniform(-limit[1], limit[1], hidden),
        np.zeros(1),
    ]
    moments = [(np.zeros_like(q), np.zeros_like(q)) for q in params]
    share = weight * n  # a batch's mean of share * loss is the balanced loss
    step = 0
    for _ in range(max(epochs, -(-min_steps * batch // n))):
        order = rng.permutation(n)
        for start in range(0, n, batch):
            i = order[start : start + batch]
            w1, b1, w2, b2 = params
            pre = z[i] @ w1 + b1
            act = np.maximum(pre, 0.0)
            p = 1.0 / (1.0 + np.exp(-(act @ w2 + b2[0])))
            g = share[i] * (p - y[i]) / len(i)  # d loss / d logit
            g_act = np.outer(g, w2) * (pre > 0)
            grads = [
                z[i].T @ g_act + 2 * l2 * w1,
                g_act.sum(axis=0),
                act.T @ g + 2 * l2 * w2,
                np.array([g.sum()]),
            ]
            step += 1
            for q, grad, (m, v) in zip(params, grads, moments, strict=True):
                m *= 0.9
                m += 0.1 * grad
                v *= 0.999
                v += 0.001 * grad * grad
                q -= rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-7)
    w1, b1, w2, b2 = params
    return np.r_[w1, b1[None]], np.r_[w2, b2]


@dataclass(frozen=True)
class NotADigit:
    """The detector the app uses, on the penultimate features: a learnt head, and the
    Mahalanobis distance either as the head's last input (its log; `mahalanobis_threshold`
    None) or as a second score with its own threshold ("head or Mahalanobis").

    The joint head is what `cross_fitted` (and `digitdraw calibrate`) fits: at the same share of
    real digits refused, it refused 94% of the benchmark's non-digits for the cnn, where "head or
    Mahalanobis" refused 74% and the head alone 87% (docs/experiments.md, "Honest answers, round 3").
    """

    mahalanobis: Mahalanobis
    head: NotDigitHead
    mahalanobis_threshold: float | None
    head_threshold: float

    def scores(
        self, features: np.ndarray, probabilities: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(Mahalanobis distances, the head's log-odds) of (n, d) features; a detector that reads
        the model's confidence needs its (n, classes) probabilities (raw, before calibration) too."""
        m = self.mahalanobis.score(features)
        if not self.joint:
            return m, self.head.score(features)
        if self.reads_confidence and probabilities is None:
            raise ValueError("this not-a-digit detector reads the model's probabilities too: pass them")
        conf = confidence_input(probabilities) if self.reads_confidence else None
        return m, self.head.score(joint_input(features, m, conf))

    @property
    def joint(self) -> bool:
        """Whether the head reads the log Mahalanobis distance beside the features."""
        return len(self.head.mean) > self.mahalanobis.means.shape[1]

    @property
    def reads_confidence(self) -> bool:
        """Whether the head reads the model's confidence too (confidence_input)."""
        return len(self.head.mean) == self.mahalanobis.means.shape[1] + 1 + CONFIDENCE_WIDTH

    def refuses(self, features: np.ndarray, probabilities: np.ndarray | None = None) -> np.ndarray:
        """(n, d) features (and the model's raw probabilities) -> (n,) bool: True where the input
        is not a digit."""
        m, h = self.scores(features, probabilities)
        refused = h > self.head_threshold
        if self.mahalanobis_threshold is not None:
            refused |= m > self.mahalanobis_threshold
        return refused

    @classmethod
    def fit(
        cls,
        mahalanobis: Mahalanobis,
        head: NotDigitHead,
        digit_features: np.ndarray,
        owner: np.ndarray | None = None,
        max_refused: float = 0.01,
        probabilities: np.ndarray | None = None,
    ) -> NotADigit:
        """Thresholds so that at most `max_refused` of the drawings refuse (a drawing: the
        digits with the same `owner`, refused when any is; default, each digit its own). A joint
        head (one that reads the log distance too) gets one threshold, its own."""
        mahalanobis, head = _float32(mahalanobis), _float32(head)  # thresholds for what is stored
        unfitted = cls(mahalanobis, head, None, 0.0)
        m, h = unfitted.scores(digit_features, probabilities)
        if unfitted.joint:
            return cls(mahalanobis, head, None, _threshold(h, owner, max_refused))
        return cls.at_rank(mahalanobis, head, m, h, owner, max_refused)

    @classmethod
    def cross_fitted(
        cls,
        digit_features: np.ndarray,
        labels: np.ndarray,
        groups: np.ndarray,
        other_features: np.ndarray,
        owner: np.ndarray | None = None,
        max_refused: float = 0.01,
        fit_mask: np.ndarray | None = None,
        probabilities: np.ndarray | None = None,
        other_probabilities: np.ndarray | None = None,
    ) -> NotADigit:
        """The joint detector fitted on all the digits, its threshold from scores of digits the
        statistics never saw.

        A detector scores the digits it was fitted on lower than new ones, so a threshold taken
        from its own digits refuses more of the next writer's. So for each group (a writer, or a
        set of writers) a detector is fitted on the other groups' digits and scores this one's;
        the threshold is the rank of those out-of-group scores (at most `max_refused` of the
        drawings above), and the detector kept is fitted on all (cross-fitting: the fold
        detectors' scores are on the same scale as the full one's, fitted the same way on 1 -
        1/groups of the data; the head weighs digits and non-digits half each, so the share of
        digits does not move its scale).

        labels: each digit's class (for the Mahalanobis means); groups: each digit's group;
        other_features: non-digits, for the head; owner: each digit's drawing (a drawing is
        refused when any digit in it is); fit_mask: the digits the statistics may be fitted on
        (e.g. only drawings read as one digit, whose label is sure); all of them score.
        probabilities, other_probabilities: the model's raw probabilities for the digits and
        the non-digits; given both, the head reads the model's confidence too (confidence_input).
        """
        f = np.asarray(digit_features, np.float64)
        y, g = np.asarray(labels).astype(np.int64), np.asarray(groups)
        if f.ndim != 2 or len(f) != len(y) or len(f) != len(g):
            raise ValueError("cross_fitted needs (n, d) features, n labels and n groups")
        if len(np.unique(g)) < 2:
            raise ValueError("cross_fitted needs digits of at least two groups (writers)")
        use = np.ones(len(f), bool) if fit_mask is None else np.asarray(fit_mask, bool)
        conf, odd_conf = _confidences(f, probabilities, other_features, other_probabilities)
        h, maha, head = _cross_fit(f, y, g, np.asarray(other_features, np.float64), use, conf, odd_conf)
        return cls(_float32(maha), _float32(head), None, _threshold(h, owner, max_refused))

    @classmethod
    def at_rank(
        cls,
        mahalanobis: Mahalanobis,
        head: NotDigitHead,
        m: np.ndarray,
        h: np.ndarray,
        owner: np.ndarray | None = None,
        max_refused: float = 0.01,
    ) -> NotADigit:
        """Both thresholds at the k-th highest of real digits' scores `m`, `h`, the largest k for
        which at most `max_refused` of the drawings have a digit above either."""
        if not len(m):
            raise ValueError("NotADigit.fit needs the features of some real digits")
        if not 0 <= max_refused < 1:
            raise ValueError(f"max_refused must be in [0, 1), not {max_refused}")
        owner = np.arange(len(m)) if owner is None else np.asarray(owner, dtype=np.int64)
        drawings = int(owner.max()) + 1
        sm, sh = np.sort(m), np.sort(h)

        def refused(k: int) -> float:  # thresholds at the k-th highest score of each
            out = np.zeros(drawings, bool)
            np.logical_or.at(out, owner, (m > sm[-k]) | (h > sh[-k]))
            return float(out.mean())

        lo, hi = 1, len(m)  # refused(k) grows with k; find the largest k within the limit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if refused(mid) <= max_refused else (lo, mid - 1)
        return cls(mahalanobis, head, float(sm[-lo]), float(sh[-lo]))

    # -- storage: the thresholds go in the model card, the statistics in an .npz beside the model

    def card_entry(self, statistics: str) -> dict:
        head = (
            "logistic head"
            if self.head.hidden is None
            else f"head of {self.head.hidden.shape[1]} hidden ReLUs"
        )
        if self.reads_confidence:
            method = (
                f"{head} on the dense_128 features, their log Mahalanobis distance and the "
                "model's confidence (log(1 - top probability), log entropy)"
            )
        elif self.joint:
            method = f"{head} on the dense_128 features and their log Mahalanobis distance"
        else:
            method = "head or Mahalanobis (dense_128 features)"
        return {
            "method": method,
            "statistics": statistics,
            "mahalanobis_threshold": self.mahalanobis_threshold,
            "head_threshold": self.head_threshold,
        }

    def save_statistics(self, path: str | os.PathLike) -> None:
        with open(path, "wb") as f:
            np.savez_compressed(
                f,
                means=self.mahalanobis.means.astype(np.float32),
                precision=self.mahalanobis.precision.astype(np.float32),
                head_mean=self.head.mean.astype(np.float32),
                head_scale=self.head.scale.astype(np.float32),
                head_weights=self.head.weights.astype(np.float32),
                **({} if self.head.hidden is None else {"head_hidden": self.head.hidden.astype(np.float32)}),
            )

    @classmethod
    def load(cls, entry: dict, model_path: str | os.PathLike) -> NotADigit:
        """The detector a card's `not_a_digit` entry describes; its statistics beside the model."""
        path = Path(model_path).with_name(entry["statistics"])
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k].astype(np.float64) for k in z.files}
        return cls(
            Mahalanobis(arrays["means"], arrays["precision"]),
            NotDigitHead(
                arrays["head_mean"], arrays["head_scale"], arrays["head_weights"], arrays.get("head_hidden")
            ),
            None if entry["mahalanobis_threshold"] is None else float(entry["mahalanobis_threshold"]),
            float(entry["head_threshold"]),
        )


def _fit_joint(
    digits: np.ndarray,
    labels: np.ndarray,
    odd: np.ndarray,
    conf: np.ndarray | None = None,
    odd_conf: np.ndarray | None = None,
) -> tuple[Mahalanobis, NotDigitHead]:
    """Mahalanobis on the digits; the head on [features, log distance (, confidence)] of both sides."""
    maha = Mahalanobis.fit(digits, labels)
    return maha, NotDigitHead.fit(_head_input(digits, maha, conf), _head_input(odd, maha, odd_conf))


def _head_input(f: np.ndarray, maha: Mahalanobis, conf: np.ndarray | None) -> np.ndarray:
    return joint_input(f, maha.score(f), conf)


def _rows(a: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    """a[mask], or None for no array (a detector that does not read the confidence)."""
    return None if a is None else a[mask]


def _confidences(
    f: np.ndarray, probabilities: np.ndarray | None, odd: np.ndarray, odd_probabilities: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """confidence_input of the digits' and the non-digits' probabilities: both or neither."""
    if (probabilities is None) != (odd_probabilities is None):
        raise ValueError("give the probabilities of both the digits and the non-digits, or of neither")
    if probabilities is None:
        return None, None
    conf, odd_conf = confidence_input(probabilities), confidence_input(odd_probabilities)
    if len(conf) != len(f) or len(odd_conf) != len(odd):
        raise ValueError("one row of probabilities for each row of features")
    return conf, odd_conf


def _cross_fit(
    f: np.ndarray,
    y: np.ndarray,
    g: np.ndarray,
    odd: np.ndarray,
    use: np.ndarray,
    conf: np.ndarray | None = None,
    odd_conf: np.ndarray | None = None,
) -> tuple[np.ndarray, Mahalanobis, NotDigitHead]:
    """Each digit's joint score by a detector fitted without its group; and the detector fitted on all."""
    h = np.empty(len(f))
    for k in np.unique(g):
        out = g == k
        maha, head = _fit_joint(f[use & ~out], y[use & ~out], odd, _rows(conf, use & ~out), odd_conf)
        h[out] = head.score(_head_input(f[out], maha, _rows(conf, out)))
    return (h, *_fit_joint(f[use], y[use], odd, _rows(conf, use), odd_conf))


def choose_max_refused(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    others: np.ndarray,
    owner: np.ndarray | None = None,
    fit_mask: np.ndarray | None = None,
    candidates: tuple[float, ...] = (0.0025, 0.005, 0.01),
    mean_limit: float = 0.005,
    worst_limit: float = 0.01,
    probabilities: np.ndarray | None = None,
    other_probabilities: np.ndarray | None = None,
) -> tuple[float, dict[float, tuple[float, float]]]:
    """The largest `max_refused` for NotADigit.cross_fitted whose new writers stay within limits,
    measured on these digits alone: each group left out in turn, the whole procedure run on the
    others, the share of the left-out group's drawings refused. Within limits: on average at
    most `mean_limit`, and under `worst_limit` for the worst group. Returns it (the smallest
    candidate when none is within limits) and, for each candidate, (mean, worst).
    probabilities, other_probabilities: as for NotADigit.cross_fitted.
    """
    f = np.asarray(features, np.float64)
    y, g = np.asarray(labels).astype(np.int64), np.asarray(groups)
    if len(np.unique(g)) < 3:
        raise ValueError("choose_max_refused needs digits of at least three groups (writers)")
    owner = np.arange(len(f)) if owner is None else np.asarray(owner, dtype=np.int64)
    use = np.ones(len(f), bool) if fit_mask is None else np.asarray(fit_mask, bool)
    odd = np.asarray(others, np.float64)
    conf, odd_conf = _confidences(f, probabilities, odd, other_probabilities)
    refused: dict[float, list[float]] = {r: [] for r in candidates}
    for k in np.unique(g):
        out = g == k
        h_in, maha, head = _cross_fit(f[~out], y[~out], g[~out], odd, use[~out], _rows(conf, ~out), odd_conf)
        inner_owner = np.unique(owner[~out], return_inverse=True)[1]
        outer_owner = np.unique(owner[out], return_inverse=True)[1]
        drawing = np.full(int(outer_owner.max()) + 1, -np.inf)
        np.maximum.at(drawing, outer_owner, head.score(_head_input(f[out], maha, _rows(conf, out))))
        for r in candidates:
            refused[r].append(float((drawing > _threshold(h_in, inner_owner, r)).mean()))
    figures = {r: (float(np.mean(v)), float(np.max(v))) for r, v in refused.items()}
    within = [r for r, (mean, worst) in figures.items() if mean <= mean_limit and worst < worst_limit]
    return (max(within) if within else min(candidates)), figures


def joint_input(
    features: np.ndarray, distances: np.ndarray, confidence: np.ndarray | None = None
) -> np.ndarray:
    """The joint head's input: the features, the log of their Mahalanobis distance, and (for a head
    that reads it) the model's confidence_input."""
    x = np.c_[np.asarray(features, np.float64), np.log(np.maximum(distances, 1e-12))]
    return x if confidence is None else np.c_[x, confidence]


CONFIDENCE_WIDTH = 2  # the columns confidence_input gives


def confidence_input(probabilities: np.ndarray) -> np.ndarray:
    """How unsure the model's own answer is: log(1 - top probability) and the log entropy, (n, 2).

    For an ensemble these see where its members disagree (their average is flat), which the
    features of each member, read side by side by a linear head, do not show; a dense ensemble
    that reads a scribble as one digit with each member sure of a different one is caught here.
    """
    p, _ = _check(probabilities)
    entropy = -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(axis=1)
    return np.c_[np.log(np.clip(1.0 - p.max(axis=1), 1e-9, 1.0)), np.log(entropy + 1e-9)]


def _threshold(scores: np.ndarray, owner: np.ndarray | None, max_refused: float) -> float:
    """The lowest of these real digits' scores above which at most `max_refused` of the drawings
    (a drawing: the digits with the same `owner`, refused when any is) have a digit."""
    s = np.asarray(scores, np.float64)
    if not len(s):
        raise ValueError("a threshold needs the scores of some real digits")
    if not 0 <= max_refused < 1:
        raise ValueError(f"max_refused must be in [0, 1), not {max_refused}")
    owner = np.arange(len(s)) if owner is None else np.asarray(owner, dtype=np.int64)
    # A drawing's score is its highest digit's; refused above the threshold.
    drawing = np.full(int(owner.max()) + 1, -np.inf)
    np.maximum.at(drawing, owner, s)
    return float(np.sort(drawing)[len(drawing) - 1 - int(np.floor(max_refused * len(drawing)))])


def _float32(x: Mahalanobis | NotDigitHead) -> Mahalanobis | NotDigitHead:
    """The same detector with its arrays rounded as they are stored, so thresholds match."""

    def r(a: np.ndarray) -> np.ndarray:
        return np.asarray(a).astype(np.float32).astype(np.float64)

    if isinstance(x, Mahalanobis):
        return Mahalanobis(r(x.means), r(x.precision))
    return NotDigitHead(r(x.mean), r(x.scale), r(x.weights), None if x.hidden is None else r(x.hidden))

"""Scores for a model: accuracy, per-class accuracy, confusion matrix, the mistakes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitdraw.predict import Predictor


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    per_class: list[float]  # accuracy on each true digit 0-9
    confusion: np.ndarray  # (10, 10) counts, rows = true digit, columns = predicted
    predicted: np.ndarray  # (n,) predicted digits
    confidence: np.ndarray  # (n,) probability of the predicted digit
    probabilities: np.ndarray  # (n, 10)

    def mistakes(self, labels: np.ndarray) -> np.ndarray:
        """Indices of the wrong answers, the most confident first."""
        wrong = np.flatnonzero(self.predicted != labels)
        return wrong[np.argsort(-self.confidence[wrong])]

    def summary(self) -> dict:
        return {
            "accuracy": round(self.accuracy, 6),
            "per_class_accuracy": [round(a, 6) for a in self.per_class],
            "confusion_matrix": self.confusion.tolist(),
        }


def score(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Evaluation of given probabilities (n, 10) against true labels (n,)."""
    labels = np.asarray(labels).astype(int)
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    totals = confusion.sum(axis=1)
    per_class = [float(confusion[d, d] / totals[d]) if totals[d] else float("nan") for d in range(10)]
    return Evaluation(
        accuracy=float((predicted == labels).mean()) if len(labels) else float("nan"),
        per_class=per_class,
        confusion=confusion,
        predicted=predicted,
        confidence=probabilities[np.arange(len(predicted)), predicted],
        probabilities=probabilities,
    )


def evaluate(predictor: Predictor, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Score `predictor` on images (n, 28, 28) with labels (n,)."""
    return score(predictor.probabilities(images), labels)

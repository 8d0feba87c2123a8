"""Checks on the int8 result: full-integer tensors and I/O, the choice PTQ vs QAT, the accuracy gate."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from edge.runtime import TFLiteClassifier

#: int8 activations and weights; int32 for biases (and shape operands such as Reshape's).
FULL_INTEGER_DTYPES = (np.dtype(np.int8), np.dtype(np.int32))


def full_integer_problems(tensor_details: list[dict], input_details: list[dict],
                          output_details: list[dict]) -> list[str]:
    """Everything that keeps a model from being full-integer, from an interpreter's tensor details."""
    problems = []
    for kind, details in (("input", input_details), ("output", output_details)):
        for d in details:
            if np.dtype(d["dtype"]) != np.int8:
                problems.append(f"{kind} {d['name']!r} is {np.dtype(d['dtype']).name}, not int8")
    for d in tensor_details:
        dtype = np.dtype(d["dtype"])
        if dtype not in FULL_INTEGER_DTYPES:
            label = repr(d["name"]) if d["name"] else f"#{d.get('index')}"
            problems.append(f"tensor {label} is {dtype.name}")
    return problems


def verify_full_integer(path: str | Path, *, what: str | None = None) -> None:
    """Raise if the .tflite at ``path`` has any tensor other than int8/int32 or non-int8 I/O."""
    interp = TFLiteClassifier(path).interpreter
    problems = full_integer_problems(interp.get_tensor_details(), interp.get_input_details(),
                                     interp.get_output_details())
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise UserError(f"{what or path}: not a full-integer model ({'; '.join(problems[:3])}{more}); "
                        "TensorFlow Lite Micro needs int8 ops throughout: replace the layers behind these "
                        "tensors with ones the train presets use")


def source_mean(entry: dict) -> float | None:
    """The mean of every source's own accuracy in a report entry (a run on several sources), else None."""
    sources = entry.get("metrics", {}).get("sources") or []
    return float(np.mean([s["accuracy"] for s in sources])) if sources else None


def choose(candidates: dict[str, dict]) -> str:
    """The better int8 method by accuracy, ties broken by macro-F1, then by the simpler (first) one.

    For a run on several sources, accuracy means the mean of the sources' own accuracies (what
    ``--monitor val_source_accuracy`` picks checkpoints by), so a small source weighs as much as a big one.
    """
    if not candidates:
        raise ValueError("no int8 candidates to choose from")
    order = list(candidates)

    def key(m):
        c = candidates[m]
        mean = source_mean(c)
        return (c["accuracy"] if mean is None else mean, c["accuracy"], c["macro_f1"], -order.index(m))
    return max(order, key=key)


@dataclass(frozen=True)
class GateResult:
    passed: bool
    float_accuracy: float
    int8_accuracy: float
    drop_points: float
    max_drop: float
    method: str
    #: a run on several sources: each source's own check, {source, float_accuracy, int8_accuracy, drop_points}
    sources: tuple = ()

    @property
    def message(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        merged = _drop_text(self.float_accuracy, self.int8_accuracy, self.drop_points, self.max_drop)
        text = f"accuracy gate {verdict}: {self.method.upper()} int8 {merged}"
        if self.sources:
            text += "; per source: " + ", ".join(
                f"{Path(s['source']).name} {_drop_text(s['float_accuracy'], s['int8_accuracy'], s['drop_points'], self.max_drop)}"
                for s in self.sources)
        return text

    def to_dict(self) -> dict:
        return {**asdict(self), "sources": [dict(s) for s in self.sources], "message": self.message}


def _drop_text(float_accuracy: float, int8_accuracy: float, drop: float, max_drop: float) -> str:
    change = f"a drop of {drop:.2f} point(s)" if drop >= 0 else f"a gain of {-drop:.2f} point(s)"
    rel = "<=" if drop <= max_drop else ">"
    return (f"{100 * int8_accuracy:.2f}% vs float {100 * float_accuracy:.2f}% is {change} "
            f"(drop {drop:.2f} {rel} --max-drop {max_drop:g})")


def _drop(float_accuracy: float, int8_accuracy: float) -> float:
    # rounded: 0.1 - 0.1 style float noise must not trip a gate of exactly 0
    return round(100.0 * (float_accuracy - int8_accuracy), 10)


def gate(float_accuracy: float, int8_accuracy: float, max_drop: float, method: str,
         sources: list[tuple[str, float, float]] = ()) -> GateResult:
    """Accuracies are fractions in [0, 1]; the drop and ``max_drop`` are in percentage points.

    ``sources`` (name, float accuracy, int8 accuracy) gates every source of a multi-source run on its
    own as well: the int8 model passes only if no source, and not the merged split, drops by more.
    """
    drop = _drop(float_accuracy, int8_accuracy)
    checks = tuple({"source": name, "float_accuracy": f, "int8_accuracy": q, "drop_points": _drop(f, q)}
                   for name, f, q in sources)
    passed = drop <= max_drop and all(c["drop_points"] <= max_drop for c in checks)
    return GateResult(passed, float_accuracy, int8_accuracy, drop, max_drop, method, checks)

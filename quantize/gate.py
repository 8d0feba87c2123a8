"""Checks on the int8 result: full-integer tensors and I/O, the choice PTQ vs QAT, the accuracy gate."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge.errors import UserError
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


def choose(candidates: dict[str, dict]) -> str:
    """The better int8 method by accuracy, ties broken by macro-F1, then by the simpler (first) one."""
    if not candidates:
        raise ValueError("no int8 candidates to choose from")
    order = list(candidates)
    return max(order, key=lambda m: (candidates[m]["accuracy"], candidates[m]["macro_f1"], -order.index(m)))


@dataclass(frozen=True)
class GateResult:
    passed: bool
    float_accuracy: float
    int8_accuracy: float
    drop_points: float
    max_drop: float
    method: str

    @property
    def message(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        rel = "<=" if self.passed else ">"
        change = (f"a drop of {self.drop_points:.2f} point(s)" if self.drop_points >= 0
                  else f"a gain of {-self.drop_points:.2f} point(s)")
        return (f"accuracy gate {verdict}: {self.method.upper()} int8 {100 * self.int8_accuracy:.2f}% vs float "
                f"{100 * self.float_accuracy:.2f}% is {change} (drop {self.drop_points:.2f} {rel} --max-drop "
                f"{self.max_drop:g})")

    def to_dict(self) -> dict:
        return {**asdict(self), "message": self.message}


def gate(float_accuracy: float, int8_accuracy: float, max_drop: float, method: str) -> GateResult:
    """Accuracies are fractions in [0, 1]; the drop and ``max_drop`` are in percentage points."""
    drop = 100.0 * (float_accuracy - int8_accuracy)
    drop = round(drop, 10)  # 0.1 - 0.1 style float noise must not trip a gate of exactly 0
    return GateResult(drop <= max_drop, float_accuracy, int8_accuracy, drop, max_drop, method)

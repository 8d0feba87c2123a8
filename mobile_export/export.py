"""MODEL_OR_RUN -> DIR of ``.tflite`` files an Android, iOS or web app loads as is, checked in MediaPipe.

For each precision (``int8``: the plain full-int8 model; ``float16``: the run's float Keras model converted
with float16 weights), an RGB front with cv2's grey conversion is grafted on, the model gets TFLite
Model Metadata written by MediaPipe's metadata writer in the mobile environment, is loaded back in
MediaPipe Tasks' ``ImageClassifier`` and compared with LiteRT on the plain model over colour face
crops, and its metadata is read back and compared with the spec. Only when every file passes is
DIR moved into place (with a README for app developers and ``export_mobile.json``).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from edge import __version__
from edge.core import atomic
from edge.core.errors import UserError
from edge.core.rundir import resolve_model
from edge.core.spec import ModelSpec, Quant, load_spec_for, spec_path_for
from mobile_export import env, verify
from mobile_export.model import for_apps, normalization
from quantize.files import INT8_SUFFIX, float_model_for

log = logging.getLogger(__name__)

PRECISIONS = ("int8", "float16")
MOBILE_REPORT = "export_mobile.json"  # what was exported, in the --out-dir folder
#: the exit code when a file does not load or agree in MediaPipe (as the quantize gate)
CHECK_FAILED = 4


@dataclass(frozen=True)
class MobileExportConfig:
    precisions: tuple[str, ...] = PRECISIONS
    name: str | None = None  # file stem; default: the model's (``fer_micro_int8`` -> ``fer_micro``) or the run's
    author: str = "fer-edge"
    license: str = "Apache-2.0"
    input_factor: int = 3  # app input = 3x the model's (144x144): the model shrinks crops as cv2's INTER_AREA
    verify_faces: int = 200
    verify_data: str | None = None  # a dataset for the check (default: colour synthetic faces)
    min_agreement: float = 0.99
    seed: int = 0

    def __post_init__(self):
        bad = [p for p in self.precisions if p not in PRECISIONS]
        if bad or not self.precisions:
            raise UserError(f"--precision: expected one or more of {', '.join(PRECISIONS)}, got {', '.join(bad) or 'none'}")
        if self.input_factor not in (1, 2, 3):
            raise UserError(f"--input-factor must be 1, 2 or 3, got {self.input_factor}")
        if not 10 <= self.verify_faces <= 100_000:
            raise UserError(f"--verify-faces must be 10..100000, got {self.verify_faces}")
        if not 0 < self.min_agreement <= 1:
            raise UserError(f"--min-agreement must be in (0, 1], got {self.min_agreement}")

    def to_dict(self) -> dict:
        return {**asdict(self), "precisions": list(self.precisions)}


@dataclass(frozen=True)
class Source:
    int8: Path
    spec: ModelSpec
    float_model: Path | None
    name: str


def find_source(model_or_run: str | Path, name: str | None = None) -> Source:
    """The int8 model (with its spec) and, if there is one, the float ``.keras`` it was converted from."""
    int8 = resolve_model(model_or_run)
    spec = load_spec_for(int8)
    if spec.input_quant is None or spec.output_quant is None or spec.input_channels != 1:
        raise UserError(f"{int8}: expected a full-int8 grey model whose spec records the int8 input/output "
                        "quantization (what 'fer-edge quantize' writes)")
    path = Path(model_or_run)
    default_name = path.resolve().name if path.is_dir() else int8.stem.removesuffix(INT8_SUFFIX)
    return Source(int8, spec, float_model_for(path, int8, spec.meta.get("float_model")), name or default_name)


def _float_spec(source: Source) -> ModelSpec:
    spec = load_spec_for(source.float_model)
    spec.check_contract(source.spec, f"{source.float_model}: its spec", source.int8.name)
    return spec


def app_spec(spec: ModelSpec, precision: str, factor: int, input_quant: Quant | None,
             output_quant: Quant | None) -> ModelSpec:
    """The contract of an exported file: RGB in, grey conversion (and shrinking) inside; for fer-edge's records."""
    return replace(spec, input_channels=3, input_height=spec.input_height * factor,
                   input_width=spec.input_width * factor, input_quant=input_quant, output_quant=output_quant,
                   meta={**spec.meta, "for": "mobile apps (MediaPipe Tasks ImageClassifier)", "precision": precision,
                         "input": "RGB face crop; the model converts it to grey (cv2.COLOR_BGR2GRAY) and "
                                  f"shrinks it {factor}x (cv2.INTER_AREA)"})


def _metadata_job(spec: ModelSpec, name: str, precision: str, cfg: MobileExportConfig, digest: str) -> dict:
    mean, std = normalization(spec)
    h, w = spec.input_height * cfg.input_factor, spec.input_width * cfg.input_factor
    return {
        "name": f"fer-edge {name} ({precision})",
        "version": f"{__version__}+{digest[:12]}",
        "description": (f"Facial expression of one face: {', '.join(spec.labels)}. Input: an RGB face crop "
                        f"(as a face detector frames it), resized to {w}x{h}; the model converts it to grey and "
                        f"shrinks it to {spec.input_width}x{spec.input_height} itself. {spec.preset or 'custom'} "
                        f"preset, {precision}."),
        "author": cfg.author, "license": cfg.license, "labels": list(spec.labels), "mean": mean, "std": std,
        "input_description": f"RGB face crop, {w}x{h}, normalised as (pixel - {mean:g}) / {std:g}",
        "output_description": f"probability of each of the {spec.num_classes} expressions",
    }


def expected_metadata(job: dict) -> dict:
    keys = ("name", "version", "description", "author", "license", "labels", "mean", "std")
    return {**{k: job[k] for k in keys}, "color_space": "RGB"}


def export_mobile(model_or_run: str | Path, out_dir: str | Path, cfg: MobileExportConfig = MobileExportConfig(),
                  *, mobile_python: str | Path | None = None, force: bool = False) -> dict:
    out_dir = Path(out_dir)
    if out_dir.exists() and not force:
        raise UserError(f"{out_dir}: already exists; pass --force to replace it, or choose another --out-dir")
    source = find_source(model_or_run, cfg.name)
    if "float16" in cfg.precisions and source.float_model is None:
        raise UserError(f"{source.int8}: no float model to convert to float16 (the run or folder has no .keras "
                        "beside it); pass a run directory with model.keras, or --precision int8")
    float_spec = _float_spec(source) if "float16" in cfg.precisions else None
    python = env.mobile_python(mobile_python)
    size = source.spec.input_height * cfg.input_factor
    if source.spec.input_height != source.spec.input_width:
        raise UserError(f"{source.int8}: export-mobile needs a square input, the spec has "
                        f"{source.spec.input_height}x{source.spec.input_width}")
    if cfg.verify_data:
        bgr, labels = verify.dataset_faces(cfg.verify_data, cfg.verify_faces, source.spec, size, seed=cfg.seed)
    else:
        bgr, labels = verify.synthetic_colour_faces(cfg.verify_faces, source.spec, seed=cfg.seed, size=size)

    report = {"format": "fer-edge-export-mobile/1", "source": str(source.int8), "float_model": str(source.float_model)
              if source.float_model else None, "config": cfg.to_dict(), "mediapipe": env.REQUIREMENT,
              "faces": f"{len(bgr)} colour synthetic faces" if not cfg.verify_data else f"{len(bgr)} faces of {cfg.verify_data}",
              "files": {}}
    with tempfile.TemporaryDirectory() as work, atomic.atomic_dir(out_dir, overwrite=force) as stage:
        for precision in cfg.precisions:
            name, entry = _export_one(precision, source, float_spec, cfg, python, Path(work), stage, bgr, labels)
            report["files"][name] = entry
        from mobile_export.readme import readme

        atomic.write_text(stage / "README.md", readme(source.name, source.spec, report))
        atomic.write_json(stage / MOBILE_REPORT, report)
    return report


def _plain_model(precision: str, source: Source, float_spec: ModelSpec | None, work: Path) -> tuple[Path, ModelSpec]:
    """The plain model fer-edge itself runs for this precision (the float16 one converted as quantize does)."""
    if precision == "int8":
        return source.int8, source.spec
    from quantize.convert import convert_float16
    from quantize.float_model import load_float_model

    path = work / "plain_float16.tflite"
    path.write_bytes(convert_float16(load_float_model(source.float_model), what=str(source.float_model)))
    return path, float_spec


def _export_one(precision: str, source: Source, float_spec, cfg: MobileExportConfig, python: Path, work: Path,
                stage: Path, bgr, labels) -> tuple[str, dict]:
    """Graft, write metadata, check in MediaPipe; the file and its spec land in ``stage``."""
    from edge.runtime import TFLiteClassifier

    plain_path, plain_spec = _plain_model(precision, source, float_spec, work)
    plain = plain_path.read_bytes()
    bare, final = work / f"{precision}_bare.tflite", stage / f"{source.name}_{precision}.tflite"
    bare.write_bytes(for_apps(plain, plain_spec, factor=cfg.input_factor, what=str(plain_path)))
    job = _metadata_job(plain_spec, source.name, precision, cfg, hashlib.sha256(plain).hexdigest())
    env.run_job(python, "write-metadata", {**job, "model_in": str(bare), "model_out": str(final)})
    result = verify.check(python, final, plain_path, plain_spec, bgr, labels)
    problems = verify.metadata_problems(result.metadata, expected_metadata(job))
    if problems:
        raise UserError(f"{final.name}: metadata read back from the file differs: {'; '.join(problems)}",
                        exit_code=CHECK_FAILED)
    if result.agreement < cfg.min_agreement:
        raise UserError(f"{final.name}: MediaPipe's top-1 agrees with LiteRT on {plain_path.name} for only "
                        f"{100 * result.agreement:.1f}% of {result.faces} faces (need {100 * cfg.min_agreement:g}%); "
                        "nothing written", exit_code=CHECK_FAILED)
    clf = TFLiteClassifier(final)
    app_spec(plain_spec, precision, cfg.input_factor, clf.input_quant, clf.output_quant).save(spec_path_for(final))
    log.info("%s: %d bytes, MediaPipe top-1 agrees with LiteRT for %.1f%% of %d faces", final.name,
             final.stat().st_size, 100 * result.agreement, result.faces)
    return final.name, {
        "precision": precision, "bytes": final.stat().st_size,
        "plain_model": plain_path.name if precision == "int8" else f"{source.float_model.name} as float16",
        "plain_bytes": len(plain), "input": f"{clf.input_dtype} {list(clf.input_shape)}",
        "output": f"{clf.output_dtype} [1, {clf.num_classes}]", **result.to_dict()}


def summary_lines(report: dict) -> list[str]:
    lines = []
    for name, f in report["files"].items():
        growth = f"{100 * (f['bytes'] / f['plain_bytes'] - 1):+.1f}% vs {f['plain_model']}"
        lines.append(f"{name}: {f['bytes']:,} bytes ({growth}); MediaPipe top-1 = LiteRT for "
                     f"{100 * f['agreement']:.1f}% of {f['faces']} faces; labels and normalisation read back exact")
    return lines


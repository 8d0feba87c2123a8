"""The export pipeline: a full-int8 ``.tflite`` + its spec -> a directory of TFLM sources.

Every check runs before anything is written (model format and ops, spec agreement, arena
measurement, board budget, TFLM-vs-LiteRT parity); the directory is then built under a temporary
name and moved into place, so a failed export leaves no partial output.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from edge.core.atomic import atomic_dir
from edge.core.errors import UserError
from edge.core.paths import check_outputs
from edge.core.rundir import resolve_model
from edge.core.spec import ModelSpec, Quant, load_spec_for, spec_path_for
from firmware_export import arena as arena_mod
from firmware_export import boards as boards_mod
from firmware_export import measure_m4 as m4_mod
from firmware_export import parity as parity_mod
from firmware_export import verify_tflm as verify_mod
from firmware_export.config import FIRMWARE_REPORT, ExportConfig
from firmware_export.ops import resolver_methods
from firmware_export.pipeline_export import CameraPipeline
from firmware_export.render import board_clocks, export_record, measured_markdown, render_files
from firmware_export.settings import settings_from
from firmware_export.tflite_model import ModelInfo, TensorInfo, read_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    out: Path
    model_path: Path
    info: ModelInfo
    arena: arena_mod.ArenaMeasurement
    parity: parity_mod.ParityReport
    fits: list[boards_mod.Fit]  # the boards asked for (all of them without --board)
    files: list[str]
    verified: verify_mod.TflmVerification | None = None  # with --verify-tflm
    measured: m4_mod.M4Measurement | None = None  # with --measure-m4
    pipeline: dict | None = None  # export.json's "pipeline", with --locator


def _check_quant(source: Path, what: str, model_quant: Quant, spec_quant: Quant | None) -> None:
    if spec_quant is None:
        log.warning("%s: its spec records no %s quantization; using the model's (%s)", source, what, model_quant)
        return
    same_scale = abs(spec_quant.scale - model_quant.scale) <= 1e-6 * model_quant.scale
    if not same_scale or spec_quant.zero_point != model_quant.zero_point:
        raise UserError(f"{source}: the model's {what} quantization (scale {model_quant.scale:.9g}, zero point "
                        f"{model_quant.zero_point}) differs from its spec's (scale {spec_quant.scale:.9g}, zero point "
                        f"{spec_quant.zero_point}); the spec does not belong to this model: re-run 'fer-edge quantize'")


def check_spec(source: Path, info: ModelInfo, spec: ModelSpec) -> None:
    """The spec that travelled with the model must describe it: shape, classes, quantization."""
    inp, out = info.input, info.output
    if inp.shape != (1, *spec.input_shape):
        raise UserError(f"{source}: model input is {_shape(inp)}, its spec says 1x{'x'.join(map(str, spec.input_shape))}")
    if out.shape not in ((1, spec.num_classes), (spec.num_classes,)):
        raise UserError(f"{source}: model output is {_shape(out)}, its spec lists {spec.num_classes} classes "
                        f"({', '.join(spec.labels)})")
    _check_quant(source, "input", inp.quant, spec.input_quant)
    _check_quant(source, "output", out.quant, spec.output_quant)


def _shape(t: TensorInfo) -> str:
    return "x".join(map(str, t.shape))


def _check_out_dir(out: Path, force: bool) -> None:
    """What ``check_outputs`` leaves to the export: a folder that is not empty is replaced only with --force."""
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UserError(f"--out-dir {out}: already exists and is not empty (pass --force to replace it)")


def export_firmware(config: ExportConfig) -> ExportResult:
    """Check everything, then write the export (see the module docstring); the model is resolved here, once."""
    model_path = resolve_model(config.model)
    config = replace(config, model=str(model_path))  # what export.json records
    out = Path(config.out)
    check_outputs(inputs={"the model": model_path, "the model's spec": spec_path_for(model_path),
                          "--parity-data": config.parity_data, "--verify-tflm": config.verify_tflm,
                          "--locator": config.locator, "--parity-video": config.parity_video},
                  folders={"--out-dir": out}, replacing=True)
    _check_out_dir(out, config.force)
    all_boards = boards_mod.load_boards()
    wanted = boards_mod.select_boards(config.board, all_boards)
    if config.verify_tflm:
        verify_mod.check_tree(config.verify_tflm)  # a wrong tree fails before the slow steps
    if config.measure_m4:
        m4_mod.check_tree(config.measure_m4)  # tree, downloads and toolchain, before the slow steps

    data = model_path.read_bytes()
    info = read_model(data, str(model_path))
    resolver_methods(info.ops, str(model_path))
    spec = load_spec_for(model_path)
    check_spec(model_path, info, spec)

    log.info("measuring the tensor arena in TensorFlow Lite Micro")
    probe = info.activation_bytes * 2 + info.size * 2 + 256 * 1024  # generous: the measurement does not depend on it
    arena = arena_mod.measure_arena(data, probe, arena_mod.optimized_scratch_bytes(info.layers),
                                    info.input.shape, str(model_path))
    fits = [boards_mod.fit_board(b, info.size, arena.recommended, info.macs) for b in all_boards.values()]
    if config.board not in (None, "all"):
        boards_mod.refuse_if_not_fitting(next(f for f in fits if f.board.id == config.board))

    crops = parity_mod.synthetic_crops(config.parity_samples)
    user = parity_mod.load_image_folder(config.parity_data, config.parity_samples) if config.parity_data else []
    log.info("parity: %d inputs through TFLM (arena %d bytes) and LiteRT", len(crops) + len(user), arena.recommended)
    parity = parity_mod.run_parity(model_path, data, spec, arena.recommended, crops + user)
    if not parity.passed:
        raise UserError(f"{model_path}: TFLM and LiteRT disagree beyond {parity.tolerance} LSB or on the top-1 class "
                        f"({parity.summary()}); first: {parity.failures[0]}")

    settings = settings_from(spec, info.input.quant, info.output.quant, arena.recommended, arena.note)
    files = render_files(config.name, data, info, model_path.name, settings, arena, parity, fits, len(user))
    record = export_record(config.to_dict(), info, model_path.name, settings, arena, parity, fits)
    camera = None
    if config.locator:  # the face locator and the camera pipeline: checked, measured and rendered before writing
        camera = CameraPipeline.prepare(config, model_path, data, info, spec, arena.recommended, files)
        files.update(camera.files)
        record["pipeline"] = camera.record
    verified = measured = None
    with atomic_dir(out, overwrite=config.force) as tmp:
        for rel, text in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(text, encoding="utf-8")
        if config.verify_tflm:  # on the files as written; a failure leaves no export behind
            inputs = parity_mod.parity_inputs(model_path, spec, crops + user)
            verified = verify_mod.verify_export(tmp, config.name, data, settings, inputs, config.verify_tflm)
            record["verify_tflm"] = verified.to_record()
        if config.measure_m4:
            inputs = m4_mod.measure_inputs(model_path, spec, settings)
            measured = m4_mod.measure_export(tmp, config.name, data, settings, inputs, config.measure_m4)
            record["measure_m4"] = measured.to_record()
            clocks = board_clocks(all_boards)
            with open(tmp / "README.md", "a", encoding="utf-8") as readme:
                readme.write("\n## Measured on an emulated Cortex-M4\n\n"
                             + measured_markdown(record["measure_m4"], clocks) + "\n")
        if camera is not None:  # built against the tree(s) from the files as written, its README section added
            camera.check(tmp, config, board_clocks(all_boards))
        (tmp / FIRMWARE_REPORT).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    log.info("wrote %d files to %s", len(files) + 1, out)
    return ExportResult(out, model_path, info, arena, parity, [f for f in fits if f.board in wanted],
                        sorted([*files, FIRMWARE_REPORT]), verified, measured, record.get("pipeline"))

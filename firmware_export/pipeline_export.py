"""The camera pipeline's part of one export (``--locator``): prepare before writing, check after.

``CameraPipeline.prepare`` loads, checks and measures the locator, decodes the parity frames (so a bad clip or
camera size fails before anything is written) and renders the pipeline's files and its ``export.json`` record;
``check`` runs ``--verify-tflm`` (``pipeline_verify``) and ``--measure-m4`` (``pipeline_m4``) on the files as
written and appends the pipeline's section to the README.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from edge.core.spec import ModelSpec
from edge.frame_pipeline import check_pipeline_spec
from firmware_export import pipeline as pipeline_mod
from firmware_export import pipeline_frames
from firmware_export.measure_m4 import KERNELS
from firmware_export.pipeline_frames import SYNTHETIC, CameraFrame
from firmware_export.tflite_model import ModelInfo

log = logging.getLogger(__name__)


@dataclass
class CameraPipeline:
    locator: pipeline_mod.Locator
    data: bytes  # the expression model
    spec: ModelSpec
    arena_size: int  # the expression model's exported arena
    frames: list[CameraFrame] | None  # with --verify-tflm or --measure-m4
    files: dict[str, str]
    record: dict  # export.json's "pipeline"

    @classmethod
    def prepare(cls, config, model_path: Path, data: bytes, info: ModelInfo, spec: ModelSpec,
                arena_size: int, model_files: dict[str, str]) -> CameraPipeline:
        from firmware_export.pipeline_verify import check_frames_fit

        check_pipeline_spec(spec, str(model_path))
        sizes = pipeline_frames.parse_sizes(config.parity_sizes)
        locator = pipeline_mod.load_locator(config.locator)
        frames = None
        if config.verify_tflm or config.measure_m4:
            frames = pipeline_frames.camera_frames(config.parity_video, sizes, config.parity_frames)
            check_frames_fit(frames, locator)
        files = pipeline_mod.render_pipeline_files(config.name, locator, spec, info, model_path.name)
        files.update(pipeline_mod.board_files(config.name, {**model_files, **files}))
        record = {"locator": pipeline_mod.locator_record(locator),
                  "video": str(config.parity_video) if config.parity_video else SYNTHETIC}
        return cls(locator, data, spec, arena_size, frames, files, record)

    def check(self, export_dir: Path, config, clocks: dict[str, float]) -> None:
        """``--verify-tflm`` and ``--measure-m4`` on the pipeline; fills ``record`` and the README section."""
        from firmware_export import pipeline_m4, pipeline_verify

        if config.verify_tflm:
            parity = pipeline_verify.verify_pipeline(export_dir, config.name, self.locator, self.data, self.spec,
                                                     self.arena_size, self.frames, self.record["video"],
                                                     config.verify_tflm)
            self.record["parity"] = parity.to_record()
            log.info("pipeline: %s", parity.summary())
        if config.measure_m4:
            reference = pipeline_verify.reference_pipeline(self.locator, self.data, self.spec, self.arena_size)
            counted = pipeline_m4.measure_pipeline(export_dir, config.name, self.locator, self.data, reference,
                                                   self.frames, config.measure_m4)
            self.record["measure_m4"] = counted
            self.record["instructions_per_frame"] = {k: counted[k]["per_size"] for k in KERNELS if k in counted}
        with open(export_dir / "README.md", "a", encoding="utf-8") as readme:
            readme.write(pipeline_mod.pipeline_readme(config.name, self.record, clocks))

"""The MediaPipe side of ``fer-edge export-mobile``: run as a script inside the mobile environment.

MediaPipe pulls in ``opencv-contrib-python`` (which clashes with the ``opencv-python-headless``
every fer-edge install has) and its metadata writers import only in 0.10.x (NumPy 1), so this file
runs in its own environment (``make mobile-venv`` -> ``.venv-mobile``), started by
``mobile_export.env`` as ``python mediapipe_runtime.py COMMAND JOB.json``. It imports only the
standard library, NumPy and MediaPipe, never fer-edge.

Commands (the job is a JSON file; the answer is one JSON object on stdout):

- ``write-metadata``: ``{"model_in", "model_out", "labels", "mean", "std", "name", "version",
  "description", "author", "license", "input_description", "output_description"}``: adds TFLite
  Model Metadata (general info, an RGB image input with its normalisation, category scores with the
  label file packed inside) with MediaPipe's metadata writer classes and populator.
- ``classify``: ``{"model", "images", "scores"}``: reads the metadata back from the file, then runs
  MediaPipe Tasks' ``ImageClassifier`` on every RGB uint8 image of ``images`` (an ``.npy`` of
  N x H x W x 3) and saves the scores in label order to ``scores`` (``.npy``, N x classes).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


class JobError(Exception):
    pass


def write_metadata(job: dict) -> dict:
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_fb
    from mediapipe.tasks.python.metadata import metadata
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_info, writer_utils

    with open(job["model_in"], "rb") as f:
        model = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        labels_path = os.path.join(tmp, job.get("labels_file", "labels.txt"))
        with open(labels_path, "w", encoding="utf-8") as f:
            f.write("\n".join(job["labels"]) + "\n")
        general = metadata_info.GeneralMd(name=job["name"], version=job["version"], description=job["description"],
                                          author=job["author"], licenses=job["license"]).create_metadata()
        image = metadata_info.InputImageTensorMd(
            name="image", description=job["input_description"], norm_mean=[float(job["mean"])],
            norm_std=[float(job["std"])], color_space_type=metadata_fb.ColorSpaceType.RGB,
            tensor_type=writer_utils.get_input_tensor_types(model)[0])
        scores = metadata_info.ClassificationTensorMd(
            name="scores", description=job["output_description"],
            label_files=[metadata_info.LabelFileMd(labels_path)],
            tensor_type=writer_utils.get_output_tensor_types(model)[0])
        subgraph = metadata_fb.SubGraphMetadataT()
        subgraph.inputTensorMetadata = [image.create_metadata()]
        subgraph.outputTensorMetadata = [scores.create_metadata()]
        general.subgraphMetadata = [subgraph]
        builder = flatbuffers.Builder(0)
        builder.Finish(general.Pack(builder), metadata.MetadataPopulator.METADATA_FILE_IDENTIFIER)
        populator = metadata.MetadataPopulator.with_model_buffer(model)
        populator.load_metadata_buffer(builder.Output())
        populator.load_associated_files([labels_path])
        populator.populate()
        out = populator.get_model_buffer()
    with open(job["model_out"], "wb") as f:
        f.write(out)
    return {"bytes": len(out)}


def read_metadata(model: bytes) -> dict:
    """What an app SDK reads from the file: general info, normalisation, colour space, labels."""
    from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_fb
    from mediapipe.tasks.python.metadata import metadata

    displayer = metadata.MetadataDisplayer.with_model_buffer(model)
    md = metadata_fb.ModelMetadataT.InitFromPackedBuf(displayer.get_metadata_buffer(), 0)
    sub = md.subgraphMetadata[0]
    inp, out = sub.inputTensorMetadata[0], sub.outputTensorMetadata[0]
    norm = next(u.options for u in inp.processUnits or []
                if u.optionsType == metadata_fb.ProcessUnitOptions.NormalizationOptions)
    names = {v: k for k, v in vars(metadata_fb.ColorSpaceType).items() if not k.startswith("_")}
    label_file = next(f.name.decode() for f in out.associatedFiles
                      if f.type == metadata_fb.AssociatedFileType.TENSOR_AXIS_LABELS)
    labels = displayer.get_associated_file_buffer(label_file).decode("utf-8").splitlines()
    text = lambda b: b.decode() if isinstance(b, bytes) else b  # noqa: E731
    return {
        "name": text(md.name), "version": text(md.version), "description": text(md.description),
        "author": text(md.author), "license": text(md.license),
        "mean": [float(m) for m in norm.mean], "std": [float(s) for s in norm.std],
        "color_space": names.get(inp.content.contentProperties.colorSpace, "?"),
        "label_file": label_file, "labels": labels,
        "packed_files": sorted(displayer.get_packed_associated_file_list()),
        "min_parser_version": text(md.minParserVersion),
    }


def classify(job: dict) -> dict:
    import mediapipe as mp
    import numpy as np
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import ImageClassifier, ImageClassifierOptions

    with open(job["model"], "rb") as f:
        model = f.read()
    info = read_metadata(model)
    images = np.load(job["images"])
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise JobError(f"{job['images']}: expected uint8 N x H x W x 3 RGB images, got {images.dtype} {images.shape}")
    options = ImageClassifierOptions(base_options=BaseOptions(model_asset_buffer=model), max_results=-1)
    scores = np.zeros((len(images), len(info["labels"])), dtype=np.float32)
    names = []
    with ImageClassifier.create_from_options(options) as classifier:
        for i, rgb in enumerate(images):
            result = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))
            categories = result.classifications[0].categories
            for c in categories:
                scores[i, c.index] = c.score
            names.append(max(categories, key=lambda c: c.score).category_name)
    np.save(job["scores"], scores)
    return {"metadata": info, "top1_names": names, "mediapipe": mp.__version__}


COMMANDS = {"write-metadata": write_metadata, "classify": classify}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in COMMANDS:
        print(f"usage: mediapipe_runtime.py {{{','.join(COMMANDS)}}} JOB.json", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            job = json.load(f)
        answer = COMMANDS[argv[0]](job)
    except ImportError as e:
        print(f"MediaPipe is not usable here ({e}); this environment needs mediapipe==0.10.21", file=sys.stderr)
        return 3
    except Exception as e:  # one line for the caller to show; the traceback helps nobody downstream
        print(f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}", file=sys.stderr)
        return 1
    json.dump(answer, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

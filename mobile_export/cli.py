"""``fer-edge export-mobile MODEL_OR_RUN --out-dir DIR``: .tflite files with metadata for MediaPipe Tasks apps.

Standard library only at top level (the dispatcher imports this module to build ``--help``).
"""

from __future__ import annotations

import argparse

HELP = "write .tflite files with metadata for MediaPipe Tasks apps, checked in MediaPipe"  # fer-edge --help
NEEDS = ("tensorflow", "tf_keras", "ai_edge_litert", "flatbuffers")  # what run() imports, which this extra installs:
EXTRA = "mobile"  # pip install 'fer-edge[mobile]'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL_OR_RUN",
                   help="a full-int8 .tflite with its .spec.json (e.g. models/fer_micro_int8.tflite), a run "
                        "directory with model_int8.tflite (and model.keras for float16), or a shipped model by "
                        "name: micro, pi ('fer-edge models' lists them)")
    from edge.core.deprecated import add_alias

    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out-dir", dest="out", metavar="DIR", help="output folder (must not exist unless --force)")
    add_alias(out, "--out", "--out-dir", "out", metavar="DIR")
    p.add_argument("--precision", action="append", choices=("int8", "float16"), default=None,
                   help="a file to write, repeatable (default: int8 and float16; float16 needs the float .keras "
                        "model)")
    p.add_argument("--name", default=None, help="file name prefix (default: the model's, e.g. fer_micro, or the run's)")
    p.add_argument("--author", default="fer-edge", help="author recorded in the metadata (fer-edge)")
    p.add_argument("--license", default="Apache-2.0", help="licence recorded in the metadata (Apache-2.0)")
    p.add_argument("--input-factor", type=int, choices=(1, 2, 3), default=3,
                   help="app input = this times the model's size (3: 144x144); the model shrinks the crop as "
                        "cv2's INTER_AREA does, since app runtimes resize bilinearly (3)")
    p.add_argument("--verify-faces", type=int, default=200, metavar="N",
                   help="faces each file is checked on in MediaPipe against LiteRT (200)")
    p.add_argument("--verify-data", default=None, metavar="DATASET",
                   help="check on this dataset's val split instead of colour synthetic faces")
    p.add_argument("--min-agreement", type=float, default=0.99, metavar="FRACTION",
                   help="fail (exit 4, nothing written) below this MediaPipe vs LiteRT top-1 agreement (0.99)")
    p.add_argument("--mobile-python", default=None, metavar="PYTHON",
                   help="Python of the MediaPipe environment (default: $FER_EDGE_MOBILE_PYTHON, else the clone's "
                        ".venv-mobile made by 'make mobile-venv', else the cache folder's mobile-venv made by "
                        "'fer-edge mobile-env')")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")


def run(args) -> int:
    from edge.core.paths import check_outputs, plain_file_name, writable_out_dir

    if args.name is not None:  # checked before the stage loads: a bad path never gets near a write
        plain_file_name(args.name, "--name")
    writable_out_dir(args.out)
    check_outputs(inputs={"the model": args.model, "--verify-data": args.verify_data, "--mobile-python": args.mobile_python},
                  folders={"--out-dir": args.out}, replacing=True)
    from mobile_export.export import MOBILE_REPORT, MobileExportConfig, export_mobile, summary_lines

    precisions = args.precision
    if not precisions:  # the default: both files, or the int8 one alone when there is no float model to convert
        from mobile_export.export import find_source

        precisions = ("int8", "float16") if find_source(args.model).float_model else ("int8",)
        if len(precisions) == 1:
            print(f"{args.model}: no float .keras model beside it (an installed package ships the int8 models only), "
                  "so only the int8 file is written")
    cfg = MobileExportConfig(precisions=tuple(dict.fromkeys(precisions)), name=args.name, author=args.author,
                             license=args.license, input_factor=args.input_factor, verify_faces=args.verify_faces,
                             verify_data=args.verify_data, min_agreement=args.min_agreement)
    report = export_mobile(args.model, args.out, cfg, mobile_python=args.mobile_python, force=args.force)
    for line in summary_lines(report):
        print(line)
    print(f"wrote {args.out}/ ({', '.join(report['files'])}, README.md, {MOBILE_REPORT})")
    return 0

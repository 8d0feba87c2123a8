"""The README.md written into an export-mobile folder: what an app developer needs, and nothing else."""

from __future__ import annotations

from edge.core.spec import ModelSpec
from mobile_export.model import normalization


def _files_table(report: dict) -> str:
    rows = []
    for name, f in report["files"].items():
        rows.append(f"| `{name}` | {f['precision']} | {f['input']} | {f['output']} | {f['bytes'] / 1024:.1f} KiB | "
                    f"{100 * f['agreement']:.1f}% of {f['faces']} |")
    return "\n".join(rows)


def readme(name: str, spec: ModelSpec, report: dict) -> str:
    mean, std = normalization(spec)
    factor = report["config"]["input_factor"]
    h, w = spec.input_height * factor, spec.input_width * factor
    first = next(iter(report["files"]))
    labels = ", ".join(f"{i} {label}" for i, label in enumerate(spec.labels))
    return f"""# {name}: facial expressions for Android, iOS and web apps

Written by `fer-edge export-mobile` from `{report["source"]}`. Each `.tflite` carries TensorFlow Lite
Model Metadata (name, description, version, licence, the image input with its normalisation and colour
space, the scores with their label file packed inside), so MediaPipe Tasks' `ImageClassifier` (and
LiteRT's support library) loads it with no preprocessing or label code of your own.

| file | weights | input | output | size | MediaPipe top-1 = fer-edge (LiteRT) |
|---|---|---|---|---:|---:|
{_files_table(report)}

The last column was measured when the files were written: each file ran in MediaPipe Tasks'
`ImageClassifier` ({report["mediapipe"]}, the C++ core the Android, iOS and web SDKs share) on
{report["faces"]} and was compared with the plain grey model in LiteRT fed through fer-edge's own
preprocessing. `export_mobile.json` has every number and the metadata as read back from each file.

## Input

- One **RGB face crop** of any size: MediaPipe resizes it to the {w}x{h} input, and the model converts it
  to grey with OpenCV's weights (0.299 R + 0.587 G + 0.114 B) and shrinks it to the {spec.input_width}x{spec.input_height}
  the network was trained on as OpenCV's area interpolation does. Hand it the camera's crop as is.
- The metadata records the normalisation `(pixel - {mean:g}) / {std:g}` (the pixel scaling the model was
  trained with). The int8 file takes uint8 pixels directly; the float16 file takes float32, and MediaPipe
  applies that normalisation for you.
- MediaPipe resizes bilinearly, which aliases when it shrinks a lot; the larger input keeps that step
  small. A {w}x{h} crop gives exactly fer-edge's own result; other sizes can differ a little
  (fer-edge's guide docs/mobile-and-web.md, "Why a 144x144 input", gives the measured agreement per crop size;
  `export_mobile.json` gives this export's agreement with LiteRT).

## Output

{spec.num_classes} category scores (probabilities that sum to 1) with the label names from the packed
`labels.txt`: {labels}.

## Which face detector to pair it with

The model classifies one face crop framed like a face detector's box (it was trained on tight face crops,
roughly forehead to chin; how BlazeFace's boxes compare with them has not been measured). Find faces
first, then classify each box, e.g. with the `regionOfInterest` option (below):

| platform | detector |
|---|---|
| Android | MediaPipe Tasks `FaceDetector` with `blaze_face_short_range.tflite` (or ML Kit face detection) |
| iOS | MediaPipe Tasks `FaceDetector` with `blaze_face_short_range.tflite` (or Apple Vision's `VNDetectFaceRectanglesRequest`) |
| web | `@mediapipe/tasks-vision` `FaceDetector` with `blaze_face_short_range.tflite` |
| Raspberry Pi / desktop | `fer-edge run` (OpenCV Haar or YuNet), with the plain int8 model |

## Android (Kotlin, MediaPipe Tasks `com.google.mediapipe:tasks-vision`)

Not compiled or run here: a starting point.

```kotlin
val classifier = ImageClassifier.createFromOptions(context,
    ImageClassifier.ImageClassifierOptions.builder()
        .setBaseOptions(BaseOptions.builder().setModelAssetPath("{first}").build())
        .setMaxResults({spec.num_classes})
        .build())
val detector = FaceDetector.createFromOptions(context,
    FaceDetector.FaceDetectorOptions.builder()
        .setBaseOptions(BaseOptions.builder().setModelAssetPath("blaze_face_short_range.tflite").build())
        .build())
val image = BitmapImageBuilder(bitmap).build()
for (face in detector.detect(image).detections()) {{
    val b = face.boundingBox()  // pixels
    val roi = RectF(b.left / bitmap.width, b.top / bitmap.height, b.right / bitmap.width, b.bottom / bitmap.height)
    val options = ImageProcessingOptions.builder().setRegionOfInterest(roi).build()
    val top = classifier.classify(image, options).classificationResult().classifications()[0].categories()[0]
    Log.i("fer", "${{top.categoryName()}} ${{top.score()}}")
}}
```

## Web (JavaScript, npm `@mediapipe/tasks-vision`)

fer-edge's test suite loads the int8 file with this package in headless Chromium and classifies face crops
taken from a `<video>` camera stream (`classify` on each crop). The snippet below, with a face detector's
box as the region of interest, is not run here.

```js
import {{FilesetResolver, ImageClassifier}} from "@mediapipe/tasks-vision";
const vision = await FilesetResolver.forVisionTasks("/node_modules/@mediapipe/tasks-vision/wasm");
const classifier = await ImageClassifier.createFromOptions(vision, {{
  baseOptions: {{modelAssetPath: "{first}"}}, runningMode: "VIDEO", maxResults: {spec.num_classes}}});
// box: a FaceDetector detection's boundingBox, in pixels of the video frame
const roi = {{left: box.originX / video.videoWidth, top: box.originY / video.videoHeight,
             right: (box.originX + box.width) / video.videoWidth, bottom: (box.originY + box.height) / video.videoHeight}};
const top = classifier.classifyForVideo(video, performance.now(), {{regionOfInterest: roi}})
  .classifications[0].categories[0];  // {{categoryName, score}}
```

## iOS (Swift, MediaPipe Tasks `MediaPipeTasksVision`)

Not compiled or run here: a starting point.

```swift
import MediaPipeTasksVision

let options = ImageClassifierOptions()
options.baseOptions.modelAssetPath = Bundle.main.path(forResource: "{first.removesuffix(".tflite")}", ofType: "tflite")!
options.maxResults = {spec.num_classes}
let classifier = try ImageClassifier(options: options)
let detectorOptions = FaceDetectorOptions()
detectorOptions.baseOptions.modelAssetPath = Bundle.main.path(forResource: "blaze_face_short_range", ofType: "tflite")!
let detector = try FaceDetector(options: detectorOptions)

let image = try MPImage(uiImage: uiImage)
let size = uiImage.size
for face in try detector.detect(image: image).detections {{
    let b = face.boundingBox  // pixels
    let roi = CGRect(x: b.minX / size.width, y: b.minY / size.height,
                     width: b.width / size.width, height: b.height / size.height)
    if let top = try classifier.classify(image: image, regionOfInterest: roi)
        .classificationResult.classifications.first?.categories.first {{
        print(top.categoryName ?? "?", top.score)
    }}
}}
```
"""

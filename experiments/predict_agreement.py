#!/usr/bin/env python
"""Do `YOLO(bundle).predict` and `python -m ovyolo predict` find the same boxes on the same images?

    python experiments/predict_agreement.py results/yolo26/128x192/bundles/int8 IMAGES_DIR [--conf 0.25 --iou 0.9]

Runs Ultralytics on the bundle's model_openvino_model/ (at the bundle's imgsz, conf 0.25, its default NMS / the
end-to-end decoding its metadata.yaml selects) and the project's predict CLI (a subprocess, as a user runs it, f32
hint) on every image of IMAGES_DIR. A detection is matched when the other side has one of the same class with IoU
>= --iou (greedy by score, one-to-one). Prints and writes OUT (default BUNDLE/../predict_agreement_<precision>.json):
detections on each side, matched share of each side, and the images compared.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from ovyolo import offline  # noqa: E402
from ovyolo.report.gallery import matched  # noqa: E402

offline.prepare()  # offline environment before Ultralytics is imported


def ultralytics_precision(autobackend) -> str | None:
    """The inference precision of Ultralytics' compiled OpenVINO model (AutoBackend -> its OpenVINO backend),
    read back from it: Ultralytics sets no precision hint, so on a CPU with bf16 it runs the float parts in bf16."""
    from ovyolo.measure.runtimes import precision_name

    compiled = getattr(getattr(autobackend, "backend", None), "ov_compiled_model", None)
    return None if compiled is None else precision_name(compiled.get_property("INFERENCE_PRECISION_HINT"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("images", type=Path)
    ap.add_argument("--conf", type=float, default=0.25)
    ap.add_argument("--iou", type=float, default=0.9)
    ap.add_argument("--precision-hint", default="f32",
                    help="ovyolo predict INFERENCE_PRECISION_HINT (Ultralytics sets none: OpenVINO's default, bf16 "
                         "for the float parts on a CPU with bf16)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    from ultralytics import YOLO

    from ovyolo.deploy.bundle import ULTRALYTICS_DIR
    from ovyolo.deploy.predict import list_images

    manifest = json.loads((args.bundle / "bundle.json").read_text())
    hw = manifest["imgsz"]
    images = list_images(args.images)
    model = YOLO(str(args.bundle / ULTRALYTICS_DIR))
    theirs = {}
    for img in images:
        r = model.predict(str(img), imgsz=hw, conf=args.conf, verbose=False)[0]
        theirs[str(img)] = r.boxes.data.numpy().astype(np.float32).reshape(-1, 6)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                                          os.environ.get("PYTHONPATH", "")]))
        subprocess.run([sys.executable, "-m", "ovyolo", "predict", str(args.bundle), str(args.images), "--out", tmp,
                        "--conf", str(args.conf), "--precision-hint", args.precision_hint], check=True, env=env,
                       capture_output=True)
        res = json.loads((Path(tmp) / "detections.json").read_text())
    ours = {r["image"]: np.asarray([[*d["box"], d["score"], d["class"]] for d in r["detections"]],
                                   np.float32).reshape(-1, 6) for r in res["images"]}
    n_t = sum(len(v) for v in theirs.values())
    n_o = sum(len(ours[k]) for k in theirs)
    m_t = sum(matched(theirs[k], ours[k], args.iou) for k in theirs)
    m_o = sum(matched(ours[k], theirs[k], args.iou) for k in theirs)
    out = {"bundle": str(args.bundle), "imgsz": hw, "output_layout": res["output_layout"],
           "ultralytics_inference_precision": ultralytics_precision(model.predictor.model),
           "ultralytics_end2end": bool(model.predictor.model.end2end), "images": len(images), "conf": args.conf,
           "iou": args.iou, "ultralytics_detections": n_t, "ovyolo_detections": n_o,
           "ultralytics_matched": m_t, "ovyolo_matched": m_o,
           "ultralytics_matched_share": m_t / n_t if n_t else None, "ovyolo_matched_share": m_o / n_o if n_o else None,
           "ovyolo_runtime": res["runtime"]}
    path = args.out or args.bundle.parent / f"predict_agreement_{manifest['precision']}_{args.precision_hint}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

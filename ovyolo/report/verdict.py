"""The verdict: which variant to deploy, per model and shape (:func:`verdict`), and its text (Markdown, JSON and the
report's first page, :func:`write_verdict`), with the lines on where the time goes from the profiles."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ovyolo import variants
from ovyolo.measure.ci import fmt
from ovyolo.measure.profile import LABELS, compare_layers
from ovyolo.shapes import hw_name


def _fmt_speed(s: dict) -> str:
    return f"{s['ratio']:.2f}x [{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]"


def _fmt_drop(d: dict) -> str:
    return f"{fmt(d['mAP50_95'], '.3f')} [{fmt(d['ci'][0], '.3f')}, {fmt(d['ci'][1], '.3f')}]"


TIE_RULE = ("between equivalent variants the one that runs at the default f32 precision hint is recommended (a bf16 run "
            "mode depends on the CPU), then the smaller file, then the variant order")


def _tie_key(x: dict) -> tuple:
    """The order :data:`TIE_RULE` states, for a verdict row's info."""
    r = x["row"]
    hint = variants.get(r["variant"]).precision_hint if r["variant"] in variants.names() else None
    size = r.get("file_size_mb")
    return (hint not in (None, "f32"), size if size is not None else float("inf"), variants.rank(r["variant"]))


def verdict(rows: Sequence[dict], max_drop: float, baseline: str = variants.BASELINE,
            comparison_only: Sequence[str] = ()) -> dict:
    """Which variant to use: the fastest one whose accuracy loss is credibly within budget, if it is measurably faster.

    ``rows``: one per candidate variant, ``{"variant": id, "label": text, "speedup": {"ratio": r, "ci": [lo, hi]},
    "drop": {"mAP50_95": d, "ci": [lo, hi]}}``; speed-up and drop are relative to ``baseline`` (a row for the
    baseline itself is optional and ignored). Rules, in order:

    0. Variants in ``comparison_only`` (those the workflow ships no bundle of: torch, onnxruntime, Ultralytics' own
       INT8, :func:`ovyolo.variants.comparison_only`) are measured and explained but never recommended: the
       recommendation is always a file the workflow ships. Their lines say how they compare with the winner.
    1. Acceptable: the drop CI's upper bound <= ``max_drop`` (so a variant that is probably fine but too
       uncertain is rejected: the budget must hold at the CI, not just at the point estimate).
    2. Measurably faster: speed-up CI lower bound > 1. A speed-up CI containing 1.0 is "no measurable
       difference in speed" and never a win; a CI entirely below 1 is "slower than the baseline".
    3. If no acceptable variant is measurably faster, the verdict recommends the baseline (there is no
       measurable speed gain to pay for any accuracy risk).
    4. Otherwise, among the acceptable, measurably faster variants keep those that are not measurably slower
       than any other of them (variant y is measurably faster than x when y's speed-up CI lies entirely above
       x's), then of those the ones not measurably less accurate than any other of them (y is measurably more
       accurate than x when y's drop CI lies entirely below x's). Disjoint CIs are a conservative test (disjoint
       95 % CIs imply a real difference; overlap means we do not claim one), so the verdict only gives up accuracy
       for speed when the speed difference is measurable, and never decides on a difference below the resolution.
    5. Equal is equal: what is left is equivalent (speed and drop CIs overlap pairwise), and :data:`TIE_RULE`
       names the one to deploy; the others' lines say "equivalent to" the winner.

    Accuracy wording: a drop CI containing 0 is described as "no measurable difference" in mAP50-95.

    Returns ``{"winner": variant, "label": label, "is_baseline": bool, "speedup": {...} | None,
    "drop": {...} | None, "baseline": baseline, "max_drop": max_drop,
    "rows": [{"variant", "label", "status": "winner" | "lost" | "comparison", "acceptable": bool, "faster": bool,
    "reason": text}], "text": "a few human lines"}``.
    """
    cands = [r for r in rows if r["variant"] != baseline]
    info = []
    for r in cands:
        sp, dr = r["speedup"], r["drop"]
        acceptable = dr["ci"][1] <= max_drop
        faster = sp["ci"][0] > 1.0
        info.append({"row": r, "acceptable": acceptable, "faster": faster,
                     "speed_none": sp["ci"][0] <= 1.0 <= sp["ci"][1],
                     "drop_none": dr["ci"][0] <= 0.0 <= dr["ci"][1]})
    pool = [x for x in info if x["acceptable"] and x["faster"] and x["row"]["variant"] not in comparison_only]
    winner = None
    def beats(y, x):  # y measurably faster than x: disjoint speed-up CIs
        return y["row"]["speedup"]["ci"][0] > x["row"]["speedup"]["ci"][1]

    def more_accurate(y, x):  # y measurably more accurate than x: disjoint drop CIs, y's below
        return y["row"]["drop"]["ci"][1] < x["row"]["drop"]["ci"][0]

    top = [x for x in pool if not any(beats(y, x) for y in pool)]  # not measurably slower than any
    tied = [x for x in top if not any(more_accurate(y, x) for y in top)]  # nor measurably less accurate
    if tied:
        winner = min(tied, key=_tie_key)

    def acc_words(x):
        d = x["row"]["drop"]
        tail = "no measurable difference" if x["drop_none"] else (
            "measurably better" if d["ci"][1] < 0 else "measurable drop")
        return f"mAP50-95 drop {_fmt_drop(d)} ({tail})"

    out_rows = []
    for x in info:
        r = x["row"]
        sp = r["speedup"]
        if x is winner:
            short, reason = "recommended", f"fastest within budget: speed-up {_fmt_speed(sp)}; {acc_words(x)}"
        elif r["variant"] in comparison_only and x["acceptable"] and x["faster"]:
            w = winner["row"]["variant"] if winner else baseline
            rel = ("measurably faster than" if winner is None or beats(x, winner) else
                   "measurably slower than" if beats(winner, x) else
                   "no measurable difference in speed from" if more_accurate(x, winner) or more_accurate(winner, x)
                   else "equivalent (speed and drop CIs overlap) to")
            short = "comparison only"
            reason = (f"measured for comparison, not recommended (the workflow ships no bundle of it): speed-up "
                      f"{_fmt_speed(sp)}, {acc_words(x)}; {rel} the recommended {w}")
        elif not x["acceptable"]:
            d = r["drop"]
            short = "over budget"
            if d["mAP50_95"] > max_drop:
                reason = f"mAP50-95 drop {_fmt_drop(d)} exceeds the budget {max_drop:g}"
            else:
                reason = (f"mAP50-95 drop {_fmt_drop(d)}: the CI's upper bound exceeds the budget {max_drop:g} "
                          f"(not shown to be within budget)")
        elif x["speed_none"]:
            short, reason = "no speed gain", f"no measurable difference in speed from {baseline}: speed-up {_fmt_speed(sp)}"
        elif not x["faster"]:
            short, reason = "slower than true f32", f"slower than {baseline}: speed-up {_fmt_speed(sp)}"
        elif beats(winner, x) or x not in top:
            by = winner if beats(winner, x) else max((y for y in pool if beats(y, x)),
                                                      key=lambda y: y["row"]["speedup"]["ratio"])
            short, reason = "slower", f"slower: speed-up {_fmt_speed(sp)} vs {_fmt_speed(by['row']['speedup'])} ({by['row']['variant']})"
        elif x not in tied:
            by = max((y for y in top if more_accurate(y, x)), key=lambda y: -y["row"]["drop"]["ci"][1])
            short = "less accurate"
            reason = (f"no measurable difference in speed from {winner['row']['variant']} ({_fmt_speed(sp)} vs "
                      f"{_fmt_speed(winner['row']['speedup'])}), and {by['row']['variant']} is measurably more accurate "
                      f"(drop {_fmt_drop(by['row']['drop'])} vs {_fmt_drop(r['drop'])})")
        else:
            w = winner["row"]
            short = "equivalent"
            reason = (f"equivalent to {w['variant']}: speed-up {_fmt_speed(sp)} vs {_fmt_speed(w['speedup'])}, drop "
                      f"{_fmt_drop(r['drop'])} vs {_fmt_drop(w['drop'])}, both CIs overlap; {TIE_RULE}")
        out_rows.append({"variant": r["variant"], "label": r.get("label", r["variant"]),
                         "status": "winner" if x is winner else "comparison" if r["variant"] in comparison_only else "lost",
                         "acceptable": x["acceptable"],
                         "faster": x["faster"], "equivalent": x is not winner and x in tied, "short": short,
                         "reason": reason})

    base_label = next((r.get("label", baseline) for r in rows if r["variant"] == baseline), baseline)
    if winner is None:
        w_var, w_label, sp, dr = baseline, base_label, None, None
        shipped = any(o["status"] == "comparison" and o["acceptable"] and o["faster"] for o in out_rows)
        head = (f"Recommend {base_label} (the baseline): no measurable speed gain over it from any variant "
                + ("this workflow ships " if shipped else "") + f"within the mAP50-95 budget {max_drop:g}.")
    else:
        r = winner["row"]
        w_var, w_label, sp, dr = r["variant"], r.get("label", r["variant"]), r["speedup"], r["drop"]
        head = (f"Recommend {w_label}: speed-up {_fmt_speed(sp)} over {base_label}, "
                f"{acc_words(winner)}, within the budget {max_drop:g}.")
    lines = [head] + [f"  {o['label']}: {o['reason']}" for o in out_rows if o["status"] != "winner"]
    return {"winner": w_var, "label": w_label, "is_baseline": winner is None, "speedup": sp, "drop": dr,
            "baseline": baseline, "max_drop": max_drop, "rows": out_rows, "text": "\n".join(lines)}


def val_images_folder(data_yaml: str | Path) -> str:
    """Where a data set's val images are (the folder of its first val image), as a path that works from the working
    directory: relative when inside it, else absolute."""
    import os

    from ovyolo.data.dataset import load_dataset

    folder = Path(load_dataset(data_yaml).images("val")[0]).parent.resolve()
    here = Path.cwd().resolve()
    return os.path.relpath(folder, here) if folder.is_relative_to(here) else str(folder)


def ship(winner: str, shape_dir: str, data_yaml: str | Path | None) -> dict | None:
    """The file to ship for a verdict's winner and commands that run it as typed from the working directory:
    ``python -m ovyolo predict <bundle> <val images> --out <dir>`` (true f32, or the winner's precision hint) and,
    when Ultralytics can load the bundle, the ``YOLO()`` line. None if the winner has no bundle (see
    :data:`ovyolo.variants.BUNDLED_IRS`: the verdict recommends only shipped variants)."""
    import shlex

    from ovyolo.deploy.bundle import MANIFEST
    from ovyolo.shapes import hw_name, model_and_shape

    b = variants.bundle_of(winner) if winner in variants.names() else None
    if b is None:
        return None
    bundle = f"{shape_dir}/bundles/{b}"
    manifest = json.loads((Path(bundle) / MANIFEST).read_text()) if (Path(bundle) / MANIFEST).is_file() else {}
    hint = variants.get(winner).precision_hint or "f32"
    images = val_images_folder(data_yaml) if data_yaml else "IMAGES"
    model, hw = model_and_shape(bundle)
    cmd = ["python", "-m", "ovyolo", "predict", bundle, images, "--out", f"predictions/{model}/{hw_name(hw)}"]
    cmd += ["--precision-hint", hint] if hint != "f32" else []
    h, w = manifest.get("imgsz") or list(hw)
    yolo = (f"from ultralytics import YOLO; YOLO({str(Path(bundle) / manifest['model_dir'])!r}).predict({images!r}, "
            f"imgsz=[{h}, {w}])" if manifest.get("ultralytics_loadable") else None)
    return {"variant": winner, "bundle": bundle, "precision_hint": hint, "command": shlex.join(cmd),
            "ultralytics": yolo}


RULE = ("Fastest variant whose mAP50-95 drop against true f32 stays within {max_drop:g} (upper end of its 95% "
        "paired-bootstrap CI); speed-ups are medians of interleaved per-round ratios with their CI. A CI that "
        "contains 1.0 (speed) or 0 (accuracy) is no measurable difference; variants whose speed and drop CIs both "
        "overlap are equivalent, and " + TIE_RULE + ". Only variants the workflow ships as a bundle "
        "(results/{{model}}/{{h}}x{{w}}/bundles/: OpenVINO FP32, FP16, INT8, INT8 within max_drop, and their @bf16 "
        "run modes) are recommended; torch, onnxruntime and ultralytics-int8 are measured for comparison.")
TABLE_HEADER = ("variant", "p50 ms", "speed-up [CI]", "mAP50-95", "drop [CI]", "verdict")


def _glance_row(t: dict) -> list[str]:
    lo, hi = t["speedup_ci"]
    dlo, dhi = t["drop_ci"]
    speed = "-" if t["speedup"] is None else (
        f"{t['speedup']:.2f}x" + ("" if lo is None or lo == hi else f" [{lo:.2f}, {hi:.2f}]"))
    drop = "-" if t["drop"] is None else (
        fmt(t["drop"], ".3f") + ("" if dlo is None or dlo == dhi else f" [{fmt(dlo, '.3f')}, {fmt(dhi, '.3f')}]"))
    return [t["variant"], fmt(t["p50_ms"], ".1f"), speed, fmt(t["mAP50_95"], ".3f"), drop, t["verdict"]]


def headline(item: dict) -> str:
    """One sentence per model x shape: what to deploy, what it gains and costs, and the command that runs it."""
    where = f"**{item['model']} @ {item['shape']}**"
    v = item["verdict"]
    if not v:
        return f"{where}: no verdict (true f32 was not measured)."
    sh = item.get("ship")
    what = f"`{sh['bundle']}` ({v['label']})" if sh else v["label"]
    if v["is_baseline"]:
        gain = (f"no variant is measurably faster within the mAP50-95 budget {v['max_drop']:g}, so true f32 stays")
    else:
        gain = (f"{_fmt_speed(v['speedup'])} the speed of true f32, mAP50-95 drop {_fmt_drop(v['drop'])}, within the "
                f"budget {v['max_drop']:g}")
    run = f" Run it: `{sh['command']}`" if sh else ""
    return f"{where}: deploy {what}: {gain}.{run}"


def document(verdicts: list[dict], max_drop: float, profile_lines: list[str] | None = None) -> list[tuple]:
    """The verdict as blocks -- ("h1" | "h2" | "p", text), ("bullets", [text]), ("table", header, rows) -- with
    `code` and **bold** inline, rendered to Markdown (:func:`verdict_text`) and to the report's first page
    (:func:`verdict_rst`): one content, two renderings. The recommendation comes first, one sentence per model x
    shape; then per model x shape the table at a glance and the details."""
    blocks: list[tuple] = [("h1", "Verdict"), ("bullets", [headline(item) for item in verdicts])]
    for item in verdicts:
        blocks.append(("h2", f"{item['model']} @ {item['shape']}"))
        v = item["verdict"]
        if item.get("table"):
            blocks.append(("table", TABLE_HEADER, [_glance_row(t) for t in item["table"]]))
        blocks.append(("bullets", [ln.strip() for ln in v["text"].splitlines() if ln.strip()] if v
                       else ["no verdict (baseline not measured)"]))
        if item.get("ship"):
            sh = item["ship"]
            blocks.append(("p", f"Ship: `{sh['bundle']}`. Run it on the val images (in the run's working directory): "
                                f"`{sh['command']}`" + (f"; or with Ultralytics: `{sh['ultralytics']}`"
                                                        if sh.get("ultralytics") else "") + "."))
        blocks += per_class_blocks(item)
        facts = []
        if item.get("shape_reason"):
            facts.append(f"Shape: {item['shape_reason']}.")
        facts.append(f"Val images: {item.get('val_images')}; calibration images: {item.get('calibration_images')}.")
        facts += [f"WARNING: {w}" for w in item.get("warnings") or []]
        if item.get("timing"):
            facts.append(item["timing"] + ".")
        facts += [f"Throughput: {t}." for t in item.get("throughput") or []]
        if item.get("pipeline"):
            facts.append(item["pipeline"] + ".")
        if item.get("batch"):
            facts.append(item["batch"] + ".")
        if item.get("square"):
            facts.append(item["square"] + ".")
        ovi = item.get("ours_vs_incumbent")
        if ovi:
            facts.append(f"{ovi['ours']} minus {ovi['incumbent']}, mAP50-95: {ovi['mAP50_95_diff']:+.4f} "
                         f"[{ovi['ci'][0]:+.4f}, {ovi['ci'][1]:+.4f}] ({100 * ovi['level']:.0f}% paired bootstrap "
                         f"over the {ovi['images']} val images; positive = ours more accurate).")
        blocks.append(("bullets", facts))
        if item.get("not_measured"):
            blocks += [("p", "Requested but not measured:"),
                       ("bullets", [f"{name}: {why}" for name, why in item["not_measured"].items()])]
    blocks += [("h2", "How the verdict decides"), ("p", RULE.format(max_drop=max_drop))]
    if profile_lines:
        blocks += [("h2", "Where the time goes (OpenVINO per-op counters, results/{model}/{h}x{w}/profile.json)"),
                   ("bullets", list(profile_lines))]
    return blocks


def per_class_blocks(item: dict) -> list[tuple]:
    """The per-class AP50-95 drop table of one model x shape (paired bootstrap, the same resamples as the mAP
    drop): for the recommended variant and our INT8 IRs, the class INT8 costs most is not hidden by the average."""
    pc = item.get("per_class") or {}
    v = item.get("verdict") or {}
    shown = [n for n in dict.fromkeys([v.get("winner"), variants.OURS_INT8, variants.OURS_INT8_AC]) if n in pc]
    if not shown:
        return []
    first = pc[shown[0]]
    rows = []
    for i, c in enumerate(first):
        cells = [c["name"], str(c["gt"]), f"{c['ref']:.3f}"]
        for n in shown:
            d = pc[n][i]
            ci = f" [{d['ci'][0]:.3f}, {d['ci'][1]:.3f}]" if d["ci"] else ""
            cells.append(f"{d['drop']:.3f}{ci}")
        rows.append(cells)
    worst = max(((n, d) for n in shown for d in pc[n]), key=lambda nd: nd[1]["drop"])
    note = (f"Per class, AP50-95 drop against true f32 with its 95% paired-bootstrap CI (the same resamples as the "
            f"mAP drop; the mAP50-95 drop is the mean of these). Largest: {worst[1]['name']} in {worst[0]}, "
            f"{worst[1]['drop']:.3f}.")
    return [("p", note), ("table", ("class", "GT boxes", "true f32 AP50-95", *[f"{n} drop [CI]" for n in shown]), rows)]


def to_markdown(blocks: list[tuple]) -> str:
    out = []
    for b in blocks:
        if b[0] == "h1":
            out += [f"# {b[1]}", ""]
        elif b[0] == "h2":
            out += [f"## {b[1]}", ""]
        elif b[0] == "p":
            out += [b[1], ""]
        elif b[0] == "bullets":
            out += [f"- {t}" for t in b[1]] + [""]
        elif b[0] == "table":
            out += ["| " + " | ".join(b[1]) + " |", "|" + "---|" * len(b[1])]
            out += ["| " + " | ".join(r) + " |" for r in b[2]] + [""]
    return "\n".join(out).rstrip() + "\n"


def _rst_inline(text: str) -> str:
    """Markdown's `code` as RST ``code``; backslashes, and RST's markup characters outside code, escaped."""
    import re

    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for p in parts:
        if p.startswith("`") and p.endswith("`") and len(p) > 1:
            out.append(f":code:`{p[1:-1]}`" if "`" not in p[1:-1] else p)
        else:
            bold = re.split(r"(\*\*[^*]+\*\*)", p)
            out.append("".join(q if q.startswith("**") and q.endswith("**") and len(q) > 4 else
                               re.sub(r"([\\*_|`@])", r"\\\1", q) for q in bold))
    return "".join(out)


# Snakemake's report (9.x) shows this page in a 32rem column inside a full-height panel that centres its content
# vertically ("flex items-center h-screen overflow-auto"): a page taller than the window loses its top, the
# recommendation, above the scroll range. These rules, scoped to this page (docutils gives it id="verdict"), align
# it to the top and widen the column; with another report layout they match nothing and change nothing.
REPORT_CSS = ("div.h-screen.overflow-auto:has(#verdict) { align-items: flex-start; } "
              ".prose:has(> #verdict) { max-width: 46rem; } "
              "#verdict code { overflow-wrap: anywhere; } "
              "#verdict code::before, #verdict code::after { content: none; }")  # the prose style's literal backticks


def _rst(blocks: list[tuple], css: str | None = None) -> str:
    out = []
    for b in blocks:
        if b[0] in ("h1", "h2"):
            out += [b[1], ("=" if b[0] == "h1" else "-") * len(b[1]), ""]
            if b[0] == "h1" and css:
                out += [".. raw:: html", "", f"   <style>{css}</style>", ""]
        elif b[0] == "p":
            out += [_rst_inline(b[1]), ""]
        elif b[0] == "bullets":
            out += [f"- {_rst_inline(t)}" for t in b[1]] + [""]
        elif b[0] == "table":
            out += [".. list-table::", "   :header-rows: 1", ""]
            for r in (b[1], *b[2]):
                out += [f"   * - {_rst_inline(r[0])}"] + [f"     - {_rst_inline(c)}" for c in r[1:]]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def verdict_text(verdicts: list[dict], max_drop: float, profile_lines: list[str] | None = None) -> str:
    """The verdict as Markdown (results/verdict.md, printed at the end of the run): :func:`document`."""
    return to_markdown(document(verdicts, max_drop, profile_lines))


def verdict_rst(verdicts: list[dict], max_drop: float, profile_lines: list[str] | None = None) -> str:
    """The verdict as the report's first page (reStructuredText, the same content as :func:`verdict_text`):
    headings, the recommendation first, a table per model x shape; no preformatted block, so nothing runs past
    the page's edge."""
    return _rst(document(verdicts, max_drop, profile_lines), css=REPORT_CSS)


def write_verdict(verdicts: list[dict], max_drop: float, md: str | Path, js: str | Path, rst: str | Path,
                  profile_lines: list[str] | None = None) -> None:
    from ovyolo.atomic import atomic_file, write_json

    with atomic_file(md) as tmp:
        tmp.write_text(verdict_text(verdicts, max_drop, profile_lines))
    write_json(js, {"max_drop": max_drop, "verdicts": verdicts})
    with atomic_file(rst) as tmp:
        tmp.write_text(verdict_rst(verdicts, max_drop, profile_lines))


def timing_line(bench: dict) -> str | None:
    """How the speed-ups were timed (from benchmark.json), and what their CIs cover: rounds of one process, or rounds
    from several fresh processes."""
    run = bench.get("latency_run")
    if not run:
        return None
    n = len(bench.get("processes") or []) or 1
    where = (f"over {n} fresh processes run one after another (each compiled every IR anew); each speed-up's CI is "
             "taken over all rounds, so it includes the difference between processes and compiles"
             if n > 1 else "in one process; each speed-up's CI covers this process only, and a rerun in a new "
                           "process may fall outside it (benchmark.processes > 1 spreads the rounds)")
    return f"Timing: {run['rounds']} interleaved rounds, {bench.get('threads')} threads, {where}"


def profile_lines(profile_paths: list) -> list[str]:
    """One verdict line per model x shape x OpenVINO variant: its total counter time and largest categories."""
    lines = []
    for p in profile_paths:
        prof = json.loads(Path(p).read_text())
        model, shape = prof["model"], hw_name(prof["hw"])
        for name in sorted(prof["variants"], key=variants.rank):
            v = prof["variants"][name]
            cats = sorted(((c, d) for c, d in v["categories"].items() if d["share"] >= 0.03), key=lambda cd: -cd[1]["ms"])
            parts = ", ".join(f"{LABELS.get(c, c)} {100 * d['share']:.0f}%" for c, d in cats)
            lines.append(f"{model} @ {shape} {name} ({v['inference_precision']}): {v['total_ms']:.1f} ms of "
                         f"counters per inference; {parts}")
        lines += layer_lines(prof, f"{model} @ {shape}")
    return lines


def _layer(r: dict) -> str:
    return f"{r['layer']} {r['speedup']:.2f}x"


def layer_lines(prof: dict, where: str) -> list[str]:
    """Convolution-by-convolution lines of one profile (:func:`ovyolo.measure.profile.compare_layers`): each INT8 IR
    against true f32 (which layers gain least, which would be better kept float) and ours against Ultralytics'."""
    lines = []
    int8_irs = [v.name for v in variants.REGISTRY if v.is_openvino and v.ir and "int8" in v.ir
                and v.precision_hint == "f32"]
    for a, b in ((name, variants.BASELINE) for name in int8_irs):
        c = compare_layers(prof, a, b)
        if c is None:
            continue
        keep = ("; no faster in int8 in this profile (candidates to keep float; per-layer counters are noisy, so "
                "confirm with an interleaved benchmark): " + ", ".join(_layer(r) for r in c["not_faster"][:5])
                if c["not_faster"] else "; every layer that runs an int8 kernel is faster than its float kernel")
        lines.append(f"{where} {a} vs {b}, convolution by convolution ({c['layers']} layers): {c['ms']:.1f} vs "
                     f"{c['other_ms']:.1f} ms ({c['speedup']:.2f}x); least gain "
                     + ", ".join(_layer(r) for r in c["least"]) + keep)
    c = compare_layers(prof, variants.OURS_INT8, variants.INCUMBENT)
    if c is not None:
        lines.append(f"{where} {variants.OURS_INT8} vs {variants.INCUMBENT}, convolution by convolution ({c['layers']} layers, "
                     f"{c['same_kernels']} on the same kernel): {c['ms']:.1f} vs {c['other_ms']:.1f} ms "
                     f"({c['speedup']:.3f}x); largest single-layer difference {c['largest_difference_ms']:.2f} ms (counters show "
                     f"where the time goes; which is faster, the interleaved benchmark decides)")
    return lines

"""Batch-1 CPU runners for the variants being benchmarked: PyTorch, ONNX Runtime and OpenVINO IR.

Every runner takes one letterboxed ``1 x 3 x h x w`` float32 array and returns the model's raw first
output (for Ultralytics detectors ``1 x (4+nc) x N``), so that all variants are timed on the same work.
Each runner uses exactly ``threads`` CPU threads and records what is actually in effect in
``Runner.properties`` (for OpenVINO read back from the compiled model, not echoed from the request).

Variants:

* ``torch``: a model source's checkpoint (:func:`ovyolo.sources.load_torch_model`: ``ema`` else ``model``, float32,
  fused, eval mode), run under ``torch.inference_mode`` with ``torch.set_num_threads(threads)``.
* ``onnxruntime``: the ONNX on the CPU execution provider, ``intra_op_num_threads=threads``, inter-op 1.
* OpenVINO variants (``runs == "ir"`` in :mod:`ovyolo.variants`): an IR compiled on ``CPU`` with the variant's
  ``INFERENCE_PRECISION_HINT`` (``f32`` unless the registry says otherwise: without it, a CPU with BF16 would
  silently run an FP32/FP16 IR in bf16), ``INFERENCE_NUM_THREADS=threads`` and ``PERFORMANCE_HINT=LATENCY``.
  With ``bf16`` on a CPU without BF16, OpenVINO falls back to f32, which the read-back ``inference_precision`` shows.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ovyolo import variants
from ovyolo.errors import ShapeMismatchError, WorkflowError

DEVICE = "CPU"
RUNNER_KEYS = ("source", "onnx", "xml")  # what make_runner takes: source.json (torch), the ONNX, or the IR


def runner_args(model_files: dict) -> dict:
    """The :func:`make_runner` keyword arguments among a variant's model files (the rules' input names)."""
    return {k: model_files[k] for k in RUNNER_KEYS if model_files.get(k)}


@dataclass
class Runner:
    """One compiled/loaded model, ready for synchronous batch-1 inference.

    ``source`` is the file it was built from, ``threads`` the thread count asked for and
    ``precision_hint`` the OpenVINO precision hint asked for (None for torch/onnxruntime); ``properties``
    holds what is actually in effect (``inference_precision``, ``threads``, ``streams``, ...).
    """

    variant: str
    input_hw: tuple[int, int] | None  # None: a torch model accepts any stride multiple (unless hw was given)
    properties: dict
    source: Path
    threads: int
    precision_hint: str | None
    _infer: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    _keep: object = field(default=None, repr=False)  # the compiled model/session, kept alive
    _stream: Callable[[Iterable], Iterator] | None = field(default=None, repr=False)  # OpenVINO: async, in order

    @property
    def is_openvino(self) -> bool:
        return variants.get(self.variant).is_openvino

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return None if self.input_hw is None else (1, 3, *self.input_hw)

    def check_input(self, x: np.ndarray) -> np.ndarray:
        """The array as contiguous float32, or ShapeMismatchError naming both shapes."""
        want = self.input_shape
        if x.ndim != 4 or x.shape[:2] != (1, 3) or (want is not None and tuple(x.shape) != want):
            raise ShapeMismatchError(
                f"{self.variant} model {self.source} takes input {list(want) if want else '1 x 3 x h x w'} "
                f"but got an array of shape {list(x.shape)}; letterbox the images to the model's {{h}}x{{w}}"
            )
        return np.ascontiguousarray(x, dtype=np.float32)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Run one synchronous batch-1 inference; returns the raw first output as a numpy array."""
        return self._infer(self.check_input(x))

    def infer_all(self, items: Iterable[tuple[object, np.ndarray]]) -> Iterator[tuple[object, np.ndarray]]:
        """``(key, 1x3xhxw float32)`` pairs -> ``(key, raw first output)`` in the same order, each input at batch
        1 as :meth:`infer` runs it. An OpenVINO runner keeps up to ``properties["optimal_requests"]`` requests in
        flight (``AsyncInferQueue``: with the THROUGHPUT hint, one per stream); the others run one at a time."""
        if self._stream is not None:
            yield from self._stream((key, self.check_input(x)) for key, x in items)
            return
        for key, x in items:
            yield key, self.infer(x)


def _check_hw(variant: str, source: Path, model_shape: list, hw: tuple[int, int] | None) -> tuple[int, int]:
    """The static (h, w) of a ``1 x 3 x h x w`` model input; ShapeMismatchError if dynamic or not ``hw``."""
    dims = [d if isinstance(d, int) and d > 0 else None for d in model_shape]
    if len(dims) != 4 or dims[0] != 1 or dims[1] != 3 or None in dims:
        raise ShapeMismatchError(
            f"{variant} model {source} has input {model_shape}, not a static 1 x 3 x h x w; re-export it at a fixed size"
        )
    if hw is not None and (dims[2], dims[3]) != (int(hw[0]), int(hw[1])):
        raise ShapeMismatchError(
            f"{variant} model {source} has input {dims} but the benchmark asks for {[1, 3, int(hw[0]), int(hw[1])]}; "
            "use the model of the same {h}x{w}"
        )
    return dims[2], dims[3]


def _need(path, what: str, variant: str) -> Path:
    if path is None:
        raise WorkflowError(f"variant '{variant}' needs {what}=")
    p = Path(path)
    if not p.is_file():
        raise WorkflowError(f"{variant}: {what} file {p} does not exist; run the stage that writes it")
    return p


def cpu_supports_bf16() -> bool:
    """Whether OpenVINO's CPU plugin reports native BF16 (``OPTIMIZATION_CAPABILITIES`` contains BF16)."""
    import openvino as ov

    return "BF16" in list(ov.Core().get_property(DEVICE, "OPTIMIZATION_CAPABILITIES"))


def node_name() -> str:
    """The machine a job runs on: Slurm's node name inside a Slurm job, else the host name."""
    import os
    import socket

    return os.environ.get("SLURMD_NODENAME") or socket.gethostname()


def not_measured_here(variant: str, bf16_mode: str) -> str | None:
    """Why ``variant`` is not measured on this node (a bf16 variant where the CPU has no bf16 and
    ``evaluation.bf16`` is auto), or None. The job that would measure it decides, on its own node."""
    spec = variants.get(variant)
    if spec.precision_hint != "bf16" or bf16_mode == "always":
        return variants.not_measured_reason(variant, bf16_mode, True)
    return variants.not_measured_reason(variant, bf16_mode, cpu_supports_bf16(), node_name())


def precision_name(value) -> str:
    """An OpenVINO precision (``ov.Type`` or string) as its short name: ``f32``, ``bf16``, ``f16``."""
    if hasattr(value, "to_string"):
        return value.to_string()
    return str(value)


def openvino_config(threads: int, precision_hint: str, performance_hint: str, cpu_pinning: bool = True) -> dict:
    """The CPU compile configuration used for latency (``LATENCY``) and throughput (``THROUGHPUT``).

    ``cpu_pinning=False`` for a process that shares the machine with others (validation jobs run side by side):
    OpenVINO pins its threads to the first cores by default, so two processes with one thread each both ran on the
    same core (two one-thread validations used 1.44 of the 2 cores, AMD VM)."""
    return {
        "INFERENCE_NUM_THREADS": int(threads),
        "INFERENCE_PRECISION_HINT": precision_hint,
        "PERFORMANCE_HINT": performance_hint,
        "ENABLE_CPU_PINNING": bool(cpu_pinning),
    }


def compile_openvino(xml: Path, threads: int, precision_hint: str, performance_hint: str):
    """Compile an IR on CPU with the given threads and hints; returns ``(compiled_model, properties)``."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(xml))
    compiled = core.compile_model(model, DEVICE, openvino_config(threads, precision_hint, performance_hint))
    return compiled, openvino_properties(compiled)


def openvino_properties(compiled) -> dict:
    """What a compiled CPU model actually runs with, read back from it."""

    def get(name, conv=lambda v: v):
        try:
            return conv(compiled.get_property(name))
        except Exception:  # noqa: BLE001 - property absent in this OpenVINO version
            return None

    return {
        "inference_precision": get("INFERENCE_PRECISION_HINT", precision_name),
        "threads": get("INFERENCE_NUM_THREADS", int),
        "streams": get("NUM_STREAMS", int),
        "optimal_requests": get("OPTIMAL_NUMBER_OF_INFER_REQUESTS", int),
        "performance_hint": get("PERFORMANCE_HINT", str),
        "execution_mode": get("EXECUTION_MODE_HINT", lambda v: str(v).split(".")[-1]),
        "enable_cpu_pinning": get("ENABLE_CPU_PINNING", bool),
        "enable_hyper_threading": get("ENABLE_HYPER_THREADING", bool),
        "execution_devices": get("EXECUTION_DEVICES", list),
    }


class _Request:
    """One request of :func:`ordered_infer`: its images' count, input (alive while OpenVINO reads it), output."""

    __slots__ = ("done", "images", "x", "out", "error", "t0", "seconds")

    def __init__(self, x: np.ndarray, images: int):
        import threading

        self.done, self.images, self.x = threading.Event(), images, x
        self.out = self.error = None
        self.t0 = self.seconds = 0.0


def ordered_infer(compiled, requests: int, items: Iterable[tuple[object, np.ndarray | None]], batch: int = 1
                  ) -> Iterator[tuple[object, np.ndarray | None, float, BaseException | None]]:
    """``(key, 1 x 3 x h x w tensor or None)`` -> ``(key, raw first output of that image (1 x ...) or None, seconds
    its request was in flight / images in it, error or None)``, in the order of ``items``: the one in-order
    asynchronous consumer of an OpenVINO ``compiled`` model, for validation (:meth:`Runner.infer_all`) and the deploy
    pipeline (:class:`ovyolo.deploy.pipeline.Pipeline`). Up to ``requests`` requests in flight on an
    ``AsyncInferQueue`` (with the THROUGHPUT hint, one per stream); each request takes ``batch`` consecutive tensors
    stacked (the compiled input's batch; the last one topped up with zero images). A None tensor (nothing to infer,
    e.g. an unreadable image) passes through in its place. An inference error comes back with each image of its
    request, in order; the consumer decides."""
    import time
    from collections import deque

    import openvino as ov

    def done(request, req: _Request) -> None:  # OpenVINO's callback thread: copy the output and nothing more
        try:
            req.out = request.get_output_tensor(0).data.copy()
        except BaseException as exc:  # noqa: BLE001 - handed back in order
            req.error = exc
        if batch > 1:
            stacks.append(req.x)  # read by now: the next request of this queue refills it
        req.seconds, req.x = time.perf_counter() - req.t0, None
        req.done.set()

    stacks: list[np.ndarray] = []  # stacked inputs whose request is done (list.append/pop: atomic)
    queue = ov.AsyncInferQueue(compiled, max(1, int(requests)))
    queue.set_callback(done)
    pending: deque[list] = deque()  # [key, request or None (not yet submitted), row, passes through]
    group: list[tuple[list, np.ndarray]] = []  # entries waiting for a full request, with their tensors
    in_flight, limit = 0, max(1, int(requests)) * int(batch)

    def submit() -> None:
        nonlocal in_flight
        first = group[0][1]
        if batch == 1:
            x = first
        else:
            # a stacked input of an earlier request when one is free (a 736x1280 batch of 8 is 90 MB: a fresh one
            # each time costs the kernel a page fault per 4 KiB)
            x = stacks.pop() if stacks else np.empty((batch, *first.shape[1:]), first.dtype)
            for k, (_, t) in enumerate(group):
                x[k] = t[0]
            x[len(group):] = 0
        req = _Request(x, len(group))
        for k, (entry, _) in enumerate(group):
            entry[1], entry[2] = req, k
        in_flight += len(group)
        group.clear()
        req.t0 = time.perf_counter()
        queue.start_async({0: x}, req, share_inputs=True)

    def ready() -> bool:  # may the oldest pending image be handed back now?
        key, req, row, through = pending[0]
        if through:
            return True
        if req is None:  # in a request not yet full
            return False
        return req.done.is_set() or in_flight > limit

    def pop():
        nonlocal in_flight
        key, req, row, through = pending.popleft()
        if through:
            return key, None, 0.0, None
        in_flight -= 1
        req.done.wait()
        share = req.seconds / req.images
        return (key, None, share, req.error) if req.error is not None else (key, req.out[row:row + 1], share, None)

    try:
        for key, x in items:
            entry = [key, None, 0, x is None]
            pending.append(entry)
            if x is not None:
                group.append((entry, x))
                if len(group) == batch:
                    submit()
            while pending and ready():
                yield pop()
        if group:
            submit()
        while pending:
            yield pop()
    finally:
        queue.wait_all()


def _openvino_runner(variant, xml, threads, precision_hint, hw, performance_hint="LATENCY", cpu_pinning=True) -> Runner:
    import openvino as ov

    from ovyolo.ir import model_input_shape

    xml = _need(xml, "xml", variant)
    hint = precision_hint or variants.get(variant).precision_hint or "f32"
    core = ov.Core()
    model = core.read_model(str(xml))
    input_hw = _check_hw(variant, xml, model_input_shape(model, xml), hw)
    compiled = core.compile_model(model, DEVICE, openvino_config(threads, hint, performance_hint, cpu_pinning))
    props = {"runtime": "openvino", "openvino_version": ov.get_version(), "requested_precision_hint": hint,
             **openvino_properties(compiled)}
    request = compiled.create_infer_request()

    def infer(x: np.ndarray) -> np.ndarray:
        request.infer({0: x}, share_inputs=True)
        return request.get_output_tensor(0).data.copy()

    requests = max(1, int(props.get("optimal_requests") or 1))

    def stream(pairs: Iterable) -> Iterator:
        for key, raw, _, error in ordered_infer(compiled, requests, pairs):
            if error is not None:
                raise error
            yield key, raw

    return Runner(variant, input_hw, props, xml, int(threads), hint, infer, (compiled, request),
                  stream if requests > 1 else None)


def _onnxruntime_runner(onnx, threads, precision_hint, hw) -> Runner:
    import onnxruntime as ort

    path = _need(onnx, "onnx", "onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise WorkflowError(f"{path} has {len(inputs)} inputs; expected one image input")
    input_hw = _check_hw("onnxruntime", path, list(inputs[0].shape), hw)
    in_name, out_name = inputs[0].name, sess.get_outputs()[0].name
    props = {
        "runtime": "onnxruntime",
        "onnxruntime_version": ort.__version__,
        "inference_precision": "f32",
        "threads": int(threads),
        "intra_op_num_threads": opts.intra_op_num_threads,
        "inter_op_num_threads": opts.inter_op_num_threads,
        "streams": 1,
        "providers": sess.get_providers(),
        "graph_optimization_level": str(opts.graph_optimization_level).split(".")[-1],
    }

    def infer(x: np.ndarray) -> np.ndarray:
        return sess.run([out_name], {in_name: x})[0]

    return Runner("onnxruntime", input_hw, props, path, int(threads), None, infer, sess)


def _torch_runner(source, threads, precision_hint, hw) -> Runner:
    import torch

    from ovyolo import sources

    if source is None:
        raise WorkflowError("variant 'torch' needs source= (a ModelSource or its source.json)")
    src = source if isinstance(source, sources.ModelSource) else sources.read(_need(source, "source", "torch"))
    path = _need(src.weights, "weights", "torch")
    model = sources.load_torch_model(src)
    torch.set_num_threads(int(threads))
    input_hw = (int(hw[0]), int(hw[1])) if hw is not None else None
    props = {
        "runtime": "torch",
        "torch_version": torch.__version__,
        "inference_precision": "f32",
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "streams": 1,
        "fused": True,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
    }

    def infer(x: np.ndarray) -> np.ndarray:
        if torch.get_num_threads() != threads:  # another library in this process may have changed it
            torch.set_num_threads(int(threads))
        with torch.inference_mode():
            out = model(torch.from_numpy(x))
        if isinstance(out, (tuple, list)):  # Detect head in eval mode: (decoded, raw feature maps)
            out = out[0]
        return out.numpy()

    return Runner("torch", input_hw, props, path, int(threads), None, infer, model)


def make_runner(
    variant: str,
    *,
    onnx: str | Path | None = None,
    xml: str | Path | None = None,
    source=None,
    threads: int,
    precision_hint: str | None = None,
    hw: tuple[int, int] | None = None,
    performance_hint: str = "LATENCY",
    cpu_pinning: bool = True,
) -> Runner:
    """Build the runner of ``variant`` on CPU with exactly ``threads`` threads.

    ``torch`` needs ``source`` (a :class:`~ovyolo.sources.ModelSource` or the path of its source.json; a pickled
    checkpoint is loaded only if the source is trusted), ``onnxruntime`` needs ``onnx``, the OpenVINO variants
    need ``xml``. ``precision_hint`` overrides the variant's registered OpenVINO ``INFERENCE_PRECISION_HINT``;
    torch and onnxruntime run in f32 only. ``hw``, if given, is checked against the model's static input
    (ShapeMismatchError naming both) and fixes the input shape of the otherwise shape-free torch model.
    ``performance_hint``: OpenVINO's ``PERFORMANCE_HINT`` (``LATENCY``: one stream, what the benchmark times;
    ``THROUGHPUT``: streams of one thread each, for :meth:`Runner.infer_all`; torch and onnxruntime ignore it).
    ``cpu_pinning``: OpenVINO's ``ENABLE_CPU_PINNING`` (off where several jobs share the cores, see
    :func:`openvino_config`).
    """
    spec = variants.get(variant)
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise WorkflowError(f"threads must be a positive integer, got {threads!r}")
    if spec.is_openvino:
        if precision_hint not in (None, "f32", "bf16", "f16"):
            raise WorkflowError(f"unknown OpenVINO precision hint '{precision_hint}'; use f32, bf16 or f16")
        if performance_hint not in ("LATENCY", "THROUGHPUT"):
            raise WorkflowError(f"unknown OpenVINO performance hint '{performance_hint}'; use LATENCY or THROUGHPUT")
        return _openvino_runner(variant, xml, threads, precision_hint, hw, performance_hint, cpu_pinning)
    if precision_hint not in (None, "f32"):
        raise WorkflowError(f"variant '{variant}' runs in f32 only; precision hint '{precision_hint}' applies to OpenVINO")
    if spec.runs == "onnx":
        return _onnxruntime_runner(onnx, threads, precision_hint, hw)
    return _torch_runner(source, threads, precision_hint, hw)

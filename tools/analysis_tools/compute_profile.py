"""Where a model's compute goes: FLOPs, op time and the machine's own peak.

Used by ``benchmark.py`` and ``parity_benchmark.py``.

* :func:`count_flops` runs a callable under PyTorch's ``FlopCounterMode``
  (matrix products and convolutions, forward and backward).
* :func:`matmul_peak` / :func:`conv_peak` time a large fp32 matrix product
  and a 3x3 convolution: the achievable FLOP/s a step is compared with
  (the roofline share).
* :class:`PartProfiler` splits one step by part of the model (backbone,
  router, neck, det head, seg head, language branch, text path) and by
  phase (forward / backward): FLOPs and the time spent inside ATen ops.
  Forward ops are attributed to the innermost running part (module hooks
  and wrappers of the parts' public methods); a backward op to the part
  whose forward created the autograd node it runs for
  (``torch._C._current_autograd_node``). Whatever a step's wall time holds
  beyond its ops' time is Python and framework bookkeeping.
"""
import contextlib
import inspect
import time
from collections import defaultdict
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode, flop_registry

# (label, attribute of the model) in report order; ``text`` is the text
# path (``model.text``, a TextTaskIO): the language branch's work inside it
# counts as text, not as the language branch's.
PARTS: Tuple[Tuple[str, str],
             ...] = (('backbone', 'backbone'), ('router', 'router'),
                     ('neck', 'neck'), ('det_head', 'det_head'),
                     ('seg_head', 'seg_head'), ('language',
                                                'language'), ('text', 'text'))
OTHER = 'other'  # losses' sum, glue in the detector between the parts
CLOCKS = dict(wall=time.perf_counter, cpu=time.process_time)
# base classes whose methods are not a part's own entry points
_FRAMEWORK = (nn.Module, object)


def count_flops(fn: Callable[[], Any]) -> Tuple[Any, int]:
    """``(fn(), FLOPs)`` under ``FlopCounterMode`` (forward and, when
    ``fn`` runs one, backward)."""
    with FlopCounterMode(display=False) as counter:
        out = fn()
    return out, counter.get_total_flops()


def _best_rate(fn: Callable[[], Any],
               flops: float,
               repeats: int,
               cpu: bool = False) -> float:
    """FLOP/s of ``fn``'s best run; ``cpu``: FLOPs per second of the
    process's CPU time (all threads), which other processes' load on the
    cores does not dilute as it does the wall time."""
    clock = time.process_time if cpu else time.perf_counter
    fn()  # warm-up: thread pool, allocator, kernel selection
    best = float('inf')
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return flops / max(best, 1e-9)


def matmul_peak(n: int = 2048, repeats: int = 5, cpu: bool = False) -> float:
    """FLOP/s of an (n, n) x (n, n) fp32 matrix product, best of
    ``repeats`` (``cpu``: per CPU-second, see :func:`_best_rate`)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return _best_rate(lambda: a @ b, 2.0 * n**3, repeats, cpu)


def conv_peak(shape: Tuple[int, int, int, int] = (16, 64, 32, 32),
              repeats: int = 5,
              cpu: bool = False) -> float:
    """FLOP/s of a 3x3, stride-1, same-width fp32 convolution on an
    ``(N, C, H, W)`` input, best of ``repeats``."""
    n, c, h, w = shape
    x, weight = torch.randn(n, c, h, w), torch.randn(c, c, 3, 3)
    flops = 2.0 * n * c * h * w * c * 9
    return _best_rate(lambda: torch.nn.functional.conv2d(x, weight, padding=1),
                      flops, repeats, cpu)


def _public_methods(obj: Any) -> List[str]:
    """Names of the public methods ``obj``'s own classes define (not
    ``nn.Module``'s)."""
    names = []
    for cls in type(obj).__mro__:
        if cls in _FRAMEWORK or cls.__module__.startswith('torch.'):
            continue
        for name, value in vars(cls).items():
            if name.startswith('_') or name in names:
                continue
            if inspect.isfunction(value):
                names.append(name)
    return names


def _tensors(obj: Any) -> List[torch.Tensor]:
    flat, _ = tree_flatten(obj)
    out = []
    for x in flat:
        if isinstance(x, torch.Tensor):
            out.append(x)
        elif isinstance(x, (tuple, list)):  # NamedTuples of tuples
            out.extend(_tensors(list(x)))
    return out


class _NodeTagger(TorchFunctionMode):
    """Remember which part created each autograd node."""

    def __init__(self, profiler: 'PartProfiler') -> None:
        super().__init__()
        self.profiler = profiler

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if torch.is_grad_enabled():
            label = self.profiler.current()
            for t in _tensors(out):
                node = t.grad_fn
                if node is not None and node not in self.profiler.nodes:
                    self.profiler.nodes[node] = label
        return out


class _OpTimer(TorchDispatchMode):
    """Time every ATen op and count its FLOPs, per (part, phase)."""

    def __init__(self, profiler: 'PartProfiler') -> None:
        super().__init__()
        self.profiler = profiler

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        clock = self.profiler.clock
        start = clock()
        out = func(*args, **kwargs)
        elapsed = clock() - start
        packet = func._overloadpacket
        flops = flop_registry[packet](*args, **kwargs, out_val=out) \
            if packet in flop_registry else 0
        self.profiler.record(elapsed, flops)
        return out


class PartProfiler:
    """Per-part, per-phase FLOPs and op time of what runs in its context.

    Args:
        model (nn.Module): A ``LlavaDetSeg`` (any module with some of the
            attributes in :data:`PARTS` works).
        ops (bool): Time ops and count FLOPs (dispatch modes). False: only
            the parts' exclusive wall time of the forward (cheap hooks), the
            reference against which the op time shows the bookkeeping.
        clock (str): ``'wall'`` (``perf_counter``) or ``'cpu'`` (the
            process's CPU time: with one thread, what a step costs however
            many other processes share the cores).
    """

    def __init__(self,
                 model: nn.Module,
                 ops: bool = True,
                 clock: str = 'wall') -> None:
        if clock not in CLOCKS:
            raise ValueError(f'clock must be one of {sorted(CLOCKS)}, got '
                             f'{clock!r}')
        self.model = model
        self.ops = ops
        self.clock = CLOCKS[clock]
        self.parts: Dict[str, Any] = {
            label: getattr(model, attr)
            for label, attr in PARTS if getattr(model, attr, None) is not None
        }
        self._module_part: Dict[int, str] = {}
        for label, part in self.parts.items():
            if isinstance(part, nn.Module):
                for mod in part.modules():
                    self._module_part.setdefault(id(mod), label)
        self.stack: List[str] = []
        self.nodes: Dict[Any, str] = {}
        self._last_bw = OTHER
        # (label, 'forward' | 'backward') -> dict(flops, op_time, ops)
        self.stats: Dict[Tuple[str, str], Dict[str, float]] = defaultdict(
            lambda: dict(flops=0, op_time=0.0, ops=0))
        self.wall: Dict[str, float] = defaultdict(float)
        self._tick = 0.0

    # ------------------------------------------------------------ scopes
    def current(self) -> str:
        """The label forward work is credited to now."""
        if 'text' in self.stack:
            return 'text'
        return self.stack[-1] if self.stack else OTHER

    def _switch(self) -> None:
        now = self.clock()
        self.wall[self.current()] += now - self._tick
        self._tick = now

    def push(self, label: str) -> None:
        self._switch()
        self.stack.append(label)

    def pop(self) -> None:
        self._switch()
        self.stack.pop()

    @contextlib.contextmanager
    def scope(self, label: str) -> Iterator[None]:
        """Credit what runs inside to ``label`` (e.g. ``'optimizer'``)."""
        self.push(label)
        try:
            yield
        finally:
            self.pop()

    def _wrap(self, fn: Callable, label: str) -> Callable:

        def wrapped(*args, **kwargs):
            with self.scope(label):
                return fn(*args, **kwargs)

        return wrapped

    def record(self, elapsed: float, flops: int) -> None:
        """Credit one op to the running part and phase."""
        if torch._C._current_graph_task_id() != -1:
            node = torch._C._current_autograd_node()
            label = self.nodes.get(node, self._last_bw)
            self._last_bw = label
            key = (label, 'backward')
        else:
            key = (self.current(), 'forward')
        stat = self.stats[key]
        stat['flops'] += flops
        stat['op_time'] += elapsed
        stat['ops'] += 1

    # ------------------------------------------------------------ context
    def _pre_hook(self, module, args) -> None:
        label = self._module_part.get(id(module))
        if label is not None:
            self.push(label)

    def _post_hook(self, module, args, output) -> None:
        if id(module) in self._module_part:
            self.pop()

    @contextlib.contextmanager
    def profile(self) -> Iterator['PartProfiler']:
        """Install the hooks, wrappers and (``ops``) the dispatch modes."""
        from torch.nn.modules.module import (register_module_forward_hook,
                                             register_module_forward_pre_hook)
        handles = [
            register_module_forward_pre_hook(self._pre_hook),
            register_module_forward_hook(self._post_hook)
        ]
        wrapped = []
        for label, part in self.parts.items():
            for name in _public_methods(part):
                setattr(part, name, self._wrap(getattr(part, name), label))
                wrapped.append((part, name))
        modes = contextlib.ExitStack()
        self._tick = self.clock()
        try:
            if self.ops:
                modes.enter_context(_NodeTagger(self))
                modes.enter_context(_OpTimer(self))
            with modes:
                yield self
        finally:
            self._switch()
            for handle in handles:
                handle.remove()
            for part, name in wrapped:
                delattr(part, name)
            self.nodes.clear()  # let the graph go

    # ------------------------------------------------------------ report
    def table(self,
              wall: Optional[Dict[str, float]] = None) -> List[Dict[str, Any]]:
        """One row per label: forward / backward FLOPs and op time, and the
        exclusive wall time (``wall``: another profiler's, one run without
        ``ops``, whose dispatch modes slow every op down)."""
        wall = self.wall if wall is None else wall
        labels = [label for label, _ in PARTS
                  ] + [OTHER, 'data', 'backward', 'optimizer']
        seen = {label for label, _ in self.stats} | set(wall)
        labels += sorted(seen - set(labels))
        rows = []
        for label in labels:
            if label not in seen:
                continue
            fwd, bwd = self.stats[(label, 'forward')], self.stats[(label,
                                                                   'backward')]
            rows.append(
                dict(
                    part=label,
                    fwd_flops=fwd['flops'],
                    bwd_flops=bwd['flops'],
                    fwd_op_time=fwd['op_time'],
                    bwd_op_time=bwd['op_time'],
                    wall=wall.get(label, 0.0)))
        return rows


def train_step_profiled(model: nn.Module, optim_wrapper, batch: dict,
                        profiler: PartProfiler) -> None:
    """``model.train_step`` in its pieces, so that data preprocessing and
    the optimizer step are labelled apart from the parts."""
    from mmengine.optim import OptimWrapper
    with profiler.scope('data'):
        data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    if type(optim_wrapper).update_params is OptimWrapper.update_params:
        # the scope labels only the wall time: a backward op is credited
        # to the part that created its autograd node
        with profiler.scope('backward'):
            optim_wrapper.backward(loss)
        with profiler.scope('optimizer'):
            optim_wrapper.step()
            optim_wrapper.zero_grad()
    else:  # GradNorm / PCGrad wrappers do their own backward passes
        with profiler.scope('optimizer'):
            optim_wrapper.update_params(loss)


def format_flops(value: float, unit: str = 'G') -> str:
    """``value`` FLOPs (or FLOP/s) in giga / mega units."""
    scale = dict(G=1e9, M=1e6)[unit]
    return f'{value / scale:.2f}'


def breakdown_lines(rows: List[Dict[str, Any]],
                    step_time: Optional[float] = None) -> List[str]:
    """A Markdown table of :meth:`PartProfiler.table` rows (times in ms;
    GFLOP/s over the part's op time, forward and backward)."""
    total_flops = sum(r['fwd_flops'] + r['bwd_flops'] for r in rows) or 1
    lines = [
        '| part | fwd GFLOP | bwd GFLOP | share of FLOPs | fwd op ms | '
        'bwd op ms | GFLOP/s in ops | own ms |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
    ]
    total = dict(
        fwd_flops=0, bwd_flops=0, fwd_op_time=0.0, bwd_op_time=0.0, wall=0.0)
    for r in rows + [None]:
        name = 'all' if r is None else r['part']
        r = total if r is None else r
        if name != 'all':
            for key in total:
                total[key] += r[key]
        flops = r['fwd_flops'] + r['bwd_flops']
        op_time = r['fwd_op_time'] + r['bwd_op_time']
        rate = format_flops(flops / op_time) if flops and op_time else '-'
        lines.append(f"| {name} | {format_flops(r['fwd_flops'])} | "
                     f"{format_flops(r['bwd_flops'])} | "
                     f'{flops / total_flops:.1%} | '
                     f"{r['fwd_op_time'] * 1e3:.0f} | "
                     f"{r['bwd_op_time'] * 1e3:.0f} | {rate} | "
                     f"{r['wall'] * 1e3:.0f} |")
    if step_time:
        op_time = total['fwd_op_time'] + total['bwd_op_time']
        lines.append(
            f'\nops take {op_time * 1e3:.0f} ms of a '
            f'{step_time * 1e3:.0f} ms step ({op_time / step_time:.0%}'
            '); the rest is Python and framework bookkeeping')
    return lines

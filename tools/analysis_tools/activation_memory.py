"""Activation memory of a training step, measured on the meta device.

Part of ``memory_estimate.py`` (its docstring states the method and the
assumptions): the real modules run one forward on meta tensors of each
training source's shapes and :class:`SavedTensors` counts what autograd
saves for backward, once per storage.
"""
import contextlib
import math
from collections import OrderedDict
from typing import Dict, Iterator, List, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn

def _flash_sdpa(query,
                key,
                value,
                attn_mask=None,
                dropout_p=0.0,
                is_causal=False,
                scale=None,
                enable_gqa=False):
    """SDPA as a flash kernel saves it, on meta tensors too (PyTorch's meta
    dispatch would take the math path and save the s x s scores)."""
    if attn_mask is not None or key.shape[1] != query.shape[1]:
        return _TORCH_SDPA(
            query,
            key,
            value,
            attn_mask=attn_mask,
            dropout_p=dropout_p,
            is_causal=is_causal,
            scale=scale,
            enable_gqa=enable_gqa)
    out, _ = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        query, key, value, dropout_p, is_causal, scale=scale)
    return out


_TORCH_SDPA = F.scaled_dot_product_attention


class SavedTensors:
    """Counts the bytes autograd saves, once per storage, per checkpointable
    transformer layer (``GradientCheckpointingLayer``) or outside them."""

    def __init__(self, model: nn.Module) -> None:
        from transformers.modeling_layers import GradientCheckpointingLayer
        self.params = {p.untyped_storage()._cdata for p in model.parameters()}
        self.layers = [
            m for m in model.modules()
            if isinstance(m, GradientCheckpointingLayer)
        ]
        self.stack: List[int] = []
        self.outside: Dict[int, int] = {}
        self.inputs: Dict[int, int] = {}
        self.per_layer: List[Dict[int, int]] = []
        #: (tokens, width) of each layer's input, for the per-token figures
        self.shapes: List[Tuple[int, int]] = []
        # holding every storage seen keeps its address from being reused
        # by a later one, which the count would take for the same
        self.keep: List[object] = []

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        self.keep.append(storage)
        if storage._cdata not in self.params:
            where = self.per_layer[self.stack[-1]] if self.stack else \
                self.outside
            where[storage._cdata] = storage.nbytes()
        return tensor

    def _enter(self, module, args, kwargs) -> None:
        self.per_layer.append({})
        self.stack.append(len(self.per_layer) - 1)
        hidden = args[0] if args else kwargs.get('hidden_states')
        self.shapes.append((
            hidden.shape[:-1].numel(),
            hidden.shape[-1]) if isinstance(hidden, torch.Tensor) else (0, 0))
        if isinstance(hidden, torch.Tensor):
            storage = hidden.untyped_storage()
            self.keep.append(storage)
            self.inputs[storage._cdata] = storage.nbytes()

    def _leave(self, module, args, kwargs, output) -> None:
        self.stack.pop()

    @contextlib.contextmanager
    def record(self) -> Iterator['SavedTensors']:
        handles = []
        for layer in self.layers:
            handles.append(
                layer.register_forward_pre_hook(self._enter, with_kwargs=True))
            handles.append(
                layer.register_forward_hook(self._leave, with_kwargs=True))
        F.scaled_dot_product_attention = _flash_sdpa
        try:
            with torch.autograd.graph.saved_tensors_hooks(
                    self._pack, lambda t: t):
                yield self
        finally:
            F.scaled_dot_product_attention = _TORCH_SDPA
            for h in handles:
                h.remove()

    def _held(self, checkpointing: bool) -> Dict[int, int]:
        held = dict(self.outside)
        if checkpointing:
            held.update(self.inputs)
        else:
            for layer in self.per_layer:
                held.update(layer)
        return held

    def held(self, checkpointing: bool) -> int:
        """Bytes the forward leaves for backward: every saved tensor, or with
        checkpointing those outside the layers and the layers' inputs."""
        return sum(self._held(checkpointing).values())

    def recompute(self) -> int:
        """Bytes of the largest layer re-run by checkpointing in backward
        (what it saves beyond what is held already)."""
        held = self._held(True)
        return max((sum(v for k, v in layer.items() if k not in held)
                    for layer in self.per_layer),
                   default=0)

    def stacks(self) -> List[dict]:
        """Per run of same-shaped layers: ``layers``, ``tokens``, ``width``
        and the largest layer's saved bytes per token as a multiple of the
        width (``per_token``; bf16 LLaMA: about 34, as Korthikanti et al.'s
        34 s b h without the attention scores)."""
        out: List[dict] = []
        for shape, layer in zip(self.shapes, self.per_layer):
            size = sum(layer.values())
            if out and (out[-1]['tokens'], out[-1]['width']) == shape:
                out[-1]['layers'] += 1
                out[-1]['bytes'] = max(out[-1]['bytes'], size)
            else:
                out.append(
                    dict(
                        layers=1, tokens=shape[0], width=shape[1], bytes=size))
        for stack in out:
            stack['per_token'] = stack['bytes'] / max(
                stack['tokens'] * stack['width'], 1)
        return out

    def total(self, checkpointing: bool) -> int:
        """Peak activation bytes: ``held``, plus ``recompute`` with
        checkpointing."""
        return self.held(checkpointing) + (
            self.recompute() if checkpointing else 0)


def input_sizes(cfg: Config) -> Dict[str, Tuple[int, int]]:
    """``{source: (H, W)}`` of a training batch, padded as the data
    preprocessor pads it (a batch holds one source of the mixture)."""
    divisor = cfg.model.get('data_preprocessor', {}).get('pad_size_divisor', 1)
    datasets = cfg.train_dataloader.dataset.get('datasets')
    if not isinstance(datasets, dict):
        datasets = dict(train=cfg.train_dataloader.dataset)
    sizes = OrderedDict()
    for source, dataset in datasets.items():
        size = None
        for step in dataset.get('pipeline', []):
            kind = str(step.get('type', '')).split('.')[-1]
            if kind in ('Resize', 'RandomResize') and 'scale' in step:
                # mmdet / mmcv scale is (w, h): the long side first
                w, h = step['scale']
                size = (min(w, h), max(w, h))
            elif kind == 'RandomCrop':
                size = tuple(step['crop_size'])  # mmseg: (h, w)
            elif kind == 'Pad' and step.get('size'):
                w, h = step['size']
                size = (h, w)
        if size is None:
            raise ValueError(f'memory_estimate: no Resize / RandomCrop / Pad '
                             f'size in the pipeline of source "{source}"')
        sizes[source] = tuple(
            int(math.ceil(s / divisor) * divisor) for s in size)
    return sizes


def source_tasks(cfg: Config) -> Dict[str, Tuple[str, ...]]:
    """Tasks of each source: its ``tasks`` key, else by its dataset type."""
    datasets = cfg.train_dataloader.dataset.get('datasets')
    if not isinstance(datasets, dict):
        datasets = dict(train=cfg.train_dataloader.dataset)
    out = OrderedDict()
    for source, dataset in datasets.items():
        kind = str(dataset.get('type', '')).lower()
        default = ('vqa', ) if 'llava' in kind else ((
            'seg', ) if 'ade' in kind else ('det', ))
        out[source] = tuple(dataset.get('tasks', default))
    return out


def _lm_forward(language: nn.Module, image_tokens: torch.Tensor, convs: int,
                text: int, answers: int) -> None:
    """The LLM on ``B x convs`` sequences of image + text tokens, lm_head and
    the cross-entropy on ``answers`` tokens each, as ``answer_logits``."""
    lm = language.llava.model.language_model
    b, n, d = image_tokens.shape
    rows = image_tokens.repeat_interleave(convs, dim=0)
    ids = torch.zeros(b * convs, text, dtype=torch.long, device='meta')
    embeds = lm.get_input_embeddings()(ids).to(rows.dtype)
    inputs = torch.cat([rows, embeds], dim=1)
    hidden = lm(inputs_embeds=inputs).last_hidden_state
    # answer_logits gathers the answer positions: a (T, D) copy
    picked = hidden[:, -answers:].reshape(-1, d).contiguous()
    logits = language.llava.lm_head(picked)
    target = torch.zeros(logits.shape[0], dtype=torch.long, device='meta')
    F.cross_entropy(logits.float(), target)


def measure_activations(model: nn.Module, cfg: Config, batch_size: int,
                        dtype: torch.dtype, text_tokens: int,
                        convs_per_image: int,
                        answer_ratio: float) -> Dict[str, dict]:
    """``{source: dict(size, tasks, off, on)}``: activation bytes of one
    training step of a batch from that source, checkpointing off and on."""
    import torch.fx.experimental._config as fx_config
    from transformers import PreTrainedModel
    built = {name: p.dtype for name, p in model.named_parameters()}
    model.to(dtype)
    model.train()
    # the saved tensors are counted per layer here; checkpointing is
    # accounted for by SavedTensors.total, not run
    for module in model.modules():
        if isinstance(module, PreTrainedModel) and \
                module.supports_gradient_checkpointing:
            module.gradient_checkpointing_disable()
    tasks = source_tasks(cfg)
    out = OrderedDict()
    previous = fx_config.meta_nonzero_assume_all_nonzero
    # routing picks tokens per expert by nonzero(): every token, on meta
    fx_config.meta_nonzero_assume_all_nonzero = True
    try:
        for source, (h, w) in input_sizes(cfg).items():
            counter = SavedTensors(model)
            inputs = torch.empty(
                batch_size,
                3,
                h,
                w,
                dtype=dtype,
                device='meta',
                requires_grad=False)
            every = list(range(batch_size))
            answers = max(1, int(round(text_tokens * answer_ratio)))
            with counter.record():
                feats, vit = model.extract_feat(inputs)
                for task in tasks[source]:
                    if task == 'det' and model.det_head is not None:
                        model.det_head(
                            model._task_feats('det', feats, vit, every, None))
                    elif task == 'seg' and model.seg_head is not None:
                        model.seg_head(
                            model._task_feats('seg', feats, vit, every, None))
                    elif task == 'vqa' and model.language is not None:
                        tokens = model._vqa_tokens(vit, every, None)
                        _lm_forward(model.language, tokens, convs_per_image,
                                    text_tokens, answers)
            out[source] = dict(
                size=(h, w),
                tasks=tasks[source],
                stacks=counter.stacks(),
                off=float(counter.total(False)),
                on=float(counter.total(True)))
    finally:
        fx_config.meta_nonzero_assume_all_nonzero = previous
        # the build's dtypes back: parameter bytes are read from them
        for name, param in model.named_parameters():
            param.data = param.data.to(built[name])
    return out

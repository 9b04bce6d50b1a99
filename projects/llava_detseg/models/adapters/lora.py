"""LoRA / Conv-LoRA adapters on the parts of ``LlavaDetSeg``, grouped by task.

peft does the adapting (``LoraConfig`` + ``inject_adapter_in_model``, which
wraps ``nn.Linear`` and ``nn.Conv2d`` alike); this module decides where the
adapters go, which weights train, and keeps the model's checkpoints loadable.

Groups and gradient isolation
-----------------------------
One adapter group is ``shared``, the others are named after a task
(``det``, ``seg``, ``vqa``, or any registered task part). A task group may
only sit inside that task's branch (``det_head``, ``seg_head``,
``language``, ``cls_head``...: the part's ``branch``) and the shared group
only in the trunk (``backbone``, ``neck``). Every sample runs the trunk once; its
task's loss then flows through the trunk and its own branch only, so a
task's loss can never reach another task's adapters (tested: their
gradients stay ``None``). Per-task adapters *inside* the trunk would need one
backbone pass per task (3x the ViT cost), which this design refuses with a
clear error rather than paying silently.
"""
import contextlib
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.logging import print_log
from torch import nn

from llava_detseg.tasks import TASKS, known_tasks, task_spec

SHARED = 'shared'
TRUNK = ('backbone', 'neck')


def group_parts(group: str) -> Tuple[str, ...]:
    """Where adapter group ``group`` may live: the trunk for ``shared``, the
    branch a task's loss alone flows through for a task."""
    return TRUNK if group == SHARED else (task_spec(group).branch_of(group), )


def adapted_parts() -> Tuple[str, ...]:
    """Top-level parts whose weights the adapter config freezes /
    unfreezes (the trunk and every task's branch); other parameters (e.g.
    a loss balancer's) are left alone."""
    return TRUNK + tuple(task_spec(t).branch_of(t) for t in known_tasks())

_LORA_KEY = re.compile(r'\.lora_[A-Za-z_]+\.([^.]+)\.')


def _tuner_layers(module: nn.Module) -> Iterator[Tuple[str, nn.Module]]:
    from peft.tuners.tuners_utils import BaseTunerLayer
    for name, mod in module.named_modules():
        if isinstance(mod, BaseTunerLayer):
            yield name, mod


def adapter_group(param_name: str) -> Optional[str]:
    """The adapter group of a parameter name, or None for a base weight."""
    match = _LORA_KEY.search('.' + param_name)
    return match.group(1) if match else None


def _rename_base_keys(module, state_dict, prefix, *args) -> None:
    """Load a checkpoint written before the adapters were added.

    peft moves a wrapped layer's ``weight`` / ``bias`` under ``base_layer``;
    an adapter-free checkpoint (the VQA reference, a previous stage, a merged
    export) still has them at the old place. Without this hook MMEngine's
    non-strict ``load_from`` would silently skip them and leave random
    weights.
    """
    for key in [k for k in state_dict if k.startswith(prefix)]:
        rest = key[len(prefix):]
        if '.' not in rest:  # this layer's own weight / bias
            new = f'{prefix}base_layer.{rest}'
            if new not in state_dict:
                state_dict[new] = state_dict.pop(key)


class TaskAdapters:
    """Insert per-task LoRA groups into a built ``LlavaDetSeg`` and freeze.

    Args:
        groups (dict): ``{group: [spec, ...]}`` with group ``shared`` or a
            task. A spec holds ``part`` (dotted path of a submodule, e.g.
            ``backbone.vit`` or ``language.llava.model.language_model``),
            optionally ``target_types`` (class names such as ``'Conv2d'``:
            every such layer in the part is adapted, the Conv-LoRA of the seg
            decoder) and the rest are ``peft.LoraConfig`` arguments
            (``r``, ``lora_alpha``, ``target_modules``, ``lora_dropout``).
        train_adapters (Sequence[str], optional): Groups whose adapters
            train; default all.
        train_modules (Sequence[str]): Dotted prefixes whose base weights
            train too (e.g. a new head in stage 1); every other base weight
            of the parts is frozen.
        l2_weight (float): Weight of an L2 penalty on the trainable adapter
            weights, ``adapters.loss_l2`` (0 switches it off).
    """

    def __init__(self,
                 groups: Dict[str, List[dict]],
                 train_adapters: Optional[Sequence[str]] = None,
                 train_modules: Sequence[str] = (),
                 l2_weight: float = 0.0) -> None:
        unknown = set(groups) - {SHARED, *known_tasks()}
        if unknown:
            raise ValueError(
                f'adapters.groups: unknown groups {sorted(unknown)}; use '
                f'"{SHARED}" or a task of {known_tasks()}')
        self.groups = {g: [dict(s) for s in specs]
                       for g, specs in groups.items()}
        self.train_adapters = tuple(
            groups if train_adapters is None else train_adapters)
        bad = set(self.train_adapters) - set(groups)
        if bad:
            raise ValueError(f'adapters.train_adapters names groups '
                             f'{sorted(bad)} that adapters.groups lacks')
        self.train_modules = tuple(train_modules)
        self.l2_weight = float(l2_weight)
        # group -> qualified names of the wrapped layers, filled by apply()
        self.layers: Dict[str, List[str]] = {}

    def apply(self, model: nn.Module) -> None:
        """Inject every group, then set ``requires_grad`` on the parts."""
        from peft import LoraConfig, inject_adapter_in_model
        from peft.tuners.tuners_utils import cast_adapter_dtype
        taken = set()
        for group, specs in self.groups.items():
            self.layers[group] = []
            if group != SHARED and group not in getattr(model, 'tasks',
                                                        TASKS):
                # a task switched off (e.g. a det-only ablation of a config
                # with every group): its branch, hence its adapters, is absent
                print_log(f'adapters: group "{group}" skipped, the model has '
                          f'no {group} branch', logger='current')
                continue
            for i, spec in enumerate(specs):
                where = f'adapters.groups.{group}[{i}]'
                spec = dict(spec)
                part = spec.pop('part', None)
                if not part:
                    raise ValueError(f'{where}: "part" is missing')
                if not part.startswith(group_parts(group)):
                    raise ValueError(
                        f'{where}: part "{part}" is outside the '
                        f'{group_parts(group)} that group "{group}" may adapt'
                        ': a task group in the shared trunk would receive '
                        'the other tasks\' losses (or need one backbone pass '
                        'per task)')
                module = self._get(model, part, where)
                types = spec.pop('target_types', None)
                if types is not None:
                    spec['target_modules'] = self._names_of_types(
                        module, types, where)
                before = {n for n, _ in _tuner_layers(module)}
                inject_adapter_in_model(
                    LoraConfig(**spec), module, adapter_name=group)
                # fp32 adapters on a bf16 / fp16 base, as PeftModel makes
                # them: AdamW updates of a 2e-4 step are below bf16's
                # resolution, and autocast runs the matmuls in bf16 anyway
                cast_adapter_dtype(module, group)
                new = [n for n, _ in _tuner_layers(module) if n not in before]
                if not new:
                    raise ValueError(f'{where}: no layer of "{part}" matched '
                                     f'{spec.get("target_modules")}')
                for name in new:
                    full = f'{part}.{name}'
                    if full in taken:
                        raise ValueError(f'{where}: layer {full} already has '
                                         'an adapter of another group')
                    taken.add(full)
                    self.layers[group].append(full)
        for _, layer in _tuner_layers(model):
            layer.register_load_state_dict_pre_hook(_rename_base_keys)
        self.set_trainable(model)

    @staticmethod
    def _get(model: nn.Module, part: str, where: str) -> nn.Module:
        try:
            module = model.get_submodule(part)
        except AttributeError:
            module = None
        if module is None:
            raise ValueError(f'{where}: the model has no part "{part}" (is '
                             'that head configured?)')
        return module

    @staticmethod
    def _names_of_types(module: nn.Module, types: Sequence[str],
                        where: str) -> List[str]:
        names = [
            n for n, m in module.named_modules()
            if n and type(m).__name__ in set(types)
        ]
        if not names:
            raise ValueError(f'{where}: no {list(types)} layer to adapt')
        return names

    def set_trainable(self, model: nn.Module) -> None:
        """Adapters of ``train_adapters`` and ``train_modules`` train, and
        so do the rows of tokens added for the text format
        (``special_delta``): a frozen or adapted LLM must still learn them."""
        for name, param in model.named_parameters():
            if not name.startswith(adapted_parts()):
                continue
            if name.endswith('special_delta'):
                param.requires_grad_(True)
                continue
            group = adapter_group(name)
            if group is not None:
                param.requires_grad_(group in self.train_adapters)
            else:
                param.requires_grad_(
                    any(name.startswith(m + '.') for m in self.train_modules))
        # The pooled CLS output is never used (see CLIPViTBackbone).
        vit = getattr(getattr(model, 'backbone', None), 'vit', None)
        if vit is not None and hasattr(vit, 'post_layernorm'):
            vit.post_layernorm.requires_grad_(False)

    def reset_parameters(self, model: nn.Module) -> None:
        """Give every adapter peft's initial values again (``B = 0``).

        mmdet / mmseg heads initialise every layer whose class is named
        ``Conv2d`` (``init_cfg`` with ``layer='Conv2d'``), which includes
        peft's LoRA wrapper and its ``lora_A`` / ``lora_B`` convs: a fresh
        adapter must start as "no change", so this runs after
        ``init_weights``.
        """
        for _, layer in _tuner_layers(model):
            for name in list(getattr(layer, 'lora_A', {})):
                layer.reset_lora_parameters(name, True)

    def l2_loss(self, model: nn.Module):
        """``l2_weight`` x the squared norm of the trainable adapters."""
        params = [
            p for n, p in model.named_parameters()
            if p.requires_grad and adapter_group(n) is not None
        ]
        if not self.l2_weight or not params:
            return None
        return self.l2_weight * sum(p.pow(2).sum() for p in params)


def adapter_parameters(model: nn.Module,
                       group: Optional[str] = None) -> Dict[str, nn.Parameter]:
    """``{name: param}`` of the adapters (of one ``group``)."""
    return {
        n: p
        for n, p in model.named_parameters()
        if adapter_group(n) is not None and (group is None
                                             or adapter_group(n) == group)
    }


@contextlib.contextmanager
def adapters_disabled(model: nn.Module):
    """Run ``model`` as its base weights: the teacher of distillation.

    peft's ``PeftModel.disable_adapter`` does this for a wrapped model; here
    the adapters were injected into parts, so every tuner layer is switched
    with peft's own ``enable_adapters`` and the ``requires_grad`` flags it
    touches are restored afterwards.
    """
    layers = [m for _, m in _tuner_layers(model)]
    flags = {p: p.requires_grad for m in layers for p in m.parameters()}
    for m in layers:
        m.enable_adapters(False)
    try:
        yield model
    finally:
        for m in layers:
            m.enable_adapters(True)
        for p, flag in flags.items():
            p.requires_grad_(flag)


def merge_adapters(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base weight and drop the wrappers.

    The same as peft's ``merge_and_unload`` (``merge`` then
    ``get_base_layer``) on injected layers; the state-dict keys are the
    adapter-free ones afterwards, so a model built without ``adapters``
    loads the result.
    """
    names = [n for n, _ in _tuner_layers(model)]
    for name in sorted(names, key=lambda n: -n.count('.')):
        layer = model.get_submodule(name)
        layer.merge(safe_merge=True)
        parent_name, _, child = name.rpartition('.')
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, layer.get_base_layer())
    if hasattr(model, 'adapters'):
        model.adapters = None
    return model

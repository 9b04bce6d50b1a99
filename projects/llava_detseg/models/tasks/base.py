"""A task as a part of ``LlavaDetSeg``: what serves it, its loss, its
predictions. The model loops over its task parts; nothing in the model
class names a task."""
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.structures import DetDataSample
from mmdet.utils import OptConfigType
from torch import Tensor, nn

from llava_detseg.registry import MODELS
from ..backbones.clip_vit import ViTOutputs
from ..routers.moe import AuxOutputs
from ..utils import build_in_scope


@dataclass
class TaskBatch:
    """What a task part reads of one batch: the trunk's outputs (computed
    once for every task), the batch's samples, the rows of this task
    (``idx``), and the batch-wide collectors it adds to (``aux``: gate
    outputs for the router's balance / z-losses; ``head_outs``: raw head
    outputs the distiller reads)."""
    inputs: Tensor
    feats: Optional[Tuple[Tensor, ...]]
    vit: ViTOutputs
    samples: Optional[List[DetDataSample]]
    idx: List[int]
    aux: AuxOutputs
    head_outs: Dict[str, Any]

    def at(self, idx: List[int]) -> 'TaskBatch':
        """The same batch for the rows ``idx`` (collectors shared)."""
        return replace(self, idx=list(idx))

    @property
    def chosen(self) -> List[DetDataSample]:
        """The samples of the rows ``idx``."""
        return [self.samples[i] for i in self.idx]


class BaseTask:
    """One task of the model (registered in ``registry.TASKS`` under its
    name, e.g. ``@TASKS.register_module('cls')``).

    The class attributes describe the task to the parts that need it
    before a model is built: the router (``levels``, ``instruction``,
    ``questions_as_instruction``, ``selects_layer``), the adapters
    (``branch``: where a task's adapter group may sit), the dataset mixture
    (``meta_keys``) and readers of predictions (``pred_fields``). An
    instance builds the model part that serves it and computes its loss
    and predictions from the shared trunk (the model's ``TaskInputs``
    helpers: routed pyramids, routed tokens, language tokens).

    Args:
        name (str): The task's name (its registry key; the model passes it).
        head (dict, optional): Config of the part that serves the task,
            built into the model attribute :meth:`branch_of`.
    """
    #: model attribute of the serving part; None: ``'<name>_head'``
    branch: Optional[str] = None
    #: ``'pyramid'``: the router gives it ``num_levels`` maps for the neck;
    #: ``'tokens'``: one set of (B, 1 + HW, C) tokens
    levels: str = 'tokens'
    #: the router's default instruction (a sample without its own)
    instruction: str = 'Describe the image.'
    #: the router is conditioned on the samples' questions, if any
    questions_as_instruction: bool = False
    #: the router's adaptive layer selector picks this task's layer
    selects_layer: bool = False
    #: dataset metainfo keys this task owns in ``MultiTaskConcatDataset``
    meta_keys: Tuple[str, ...] = ()
    #: data-sample fields :meth:`predict` fills
    pred_fields: Tuple[str, ...] = ()
    #: :meth:`predict` runs in ``LlavaDetSeg.respond`` (False: the
    #: responder answers the task, as for ``vqa``)
    predicts: bool = True

    def __init__(self, name: str, head: OptConfigType = None) -> None:
        self.name = name
        self.head_cfg = head

    @classmethod
    def branch_of(cls, name: str) -> str:
        """The model attribute that serves task ``name``."""
        return cls.branch or f'{name}_head'

    @property
    def attr(self) -> str:
        return self.branch_of(self.name)

    @property
    def output_key(self) -> str:
        """The key of this task's raw output in ``mode='tensor'``."""
        return self.name

    def serving_part(self, model: nn.Module) -> Optional[nn.Module]:
        return getattr(model, self.attr, None)

    # ------------------------------------------------------------------
    def build_branch(self, model: nn.Module, train_cfg: dict,
                     test_cfg: dict) -> Optional[nn.Module]:
        """The serving part from ``head`` (None: the task is off)."""
        if self.head_cfg is None:
            return None
        return build_in_scope(MODELS, self.head_cfg)

    def check(self, model: nn.Module) -> None:
        """Refuse a combination of model parts this task cannot use."""

    def selects(self, sample: DetDataSample, requests: Sequence,
                grounded: bool) -> bool:
        """Whether :meth:`predict` runs for ``sample``."""
        return self.name in sample_tasks(sample)

    # ------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: TaskBatch) -> Dict[str, Tensor]:
        """The unweighted losses of the rows ``batch.idx`` (the model adds
        the ``<task>.`` prefix and the task's weight)."""
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, model: nn.Module, batch: TaskBatch) -> None:
        """Fill :attr:`pred_fields` of the samples ``batch.idx``."""
        raise NotImplementedError

    def forward(self, model: nn.Module, batch: TaskBatch) -> Any:
        """The raw output (``mode='tensor'``) of every row."""
        raise NotImplementedError


def sample_tasks(sample: DetDataSample) -> Sequence[str]:
    """The tasks a sample asks for (det, seg and vqa when it says none, as
    the model has always read a sample without ``tasks``)."""
    from llava_detseg.tasks import TASKS
    return sample.metainfo.get('tasks', TASKS)


def pool_tokens(tokens: Tensor, pool: str) -> Tensor:
    """(B, C) image features of (B, 1 + HW, C) tokens: the [CLS] token
    (``'cls'``) or the mean of the patch tokens (``'mean'``)."""
    if pool == 'cls':
        return tokens[:, 0]
    if pool == 'mean':
        return tokens[:, 1:].mean(1)
    raise ValueError(f'pool must be "cls" or "mean", got "{pool}"')

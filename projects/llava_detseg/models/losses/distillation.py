"""Distillation against forgetting (stage 3 of the LoRA recipe)."""
import copy
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from llava_detseg.registry import MODELS


def kl_div_logits(student: Tensor, teacher: Tensor, temperature: float,
                  dim: int = -1) -> Tensor:
    """``T^2 KL(softmax(t/T) || softmax(s/T))``, averaged over positions."""
    t = F.log_softmax(teacher.float() / temperature, dim=dim)
    s = F.log_softmax(student.float() / temperature, dim=dim)
    kl = (t.exp() * (t - s)).sum(dim)
    return kl.mean() * temperature**2


def binary_kl_logits(student: Tensor, teacher: Tensor,
                     temperature: float) -> Tensor:
    """The same for independent sigmoid outputs (FCOS class scores)."""
    s = student.float() / temperature
    t = teacher.float() / temperature
    p = torch.sigmoid(t)
    # KL(Bern(p) || Bern(q)) = BCE(q-logits, p) - H(p): zero when equal
    kl = F.binary_cross_entropy_with_logits(s, p, reduction='none') - \
        F.binary_cross_entropy_with_logits(t, p, reduction='none')
    return kl.mean() * temperature**2


@MODELS.register_module()
class TaskDistiller(BaseModule):
    """Keep what the model knew while the adapters learn new tasks.

    * **Answers**: KL on the answer-token logits toward the same model with
      its adapters disabled (``adapters_disabled``: the frozen base weights,
      i.e. the original LLaVA), added to the LM loss as ``vqa.loss_kd``.
    * **Boxes / masks**: KL on the FCOS class scores (``det.loss_kd``) and on
      the per-pixel class logits (``seg.loss_kd``) toward a detection /
      segmentation teacher checkpoint (e.g. stage 1's), built from its config
      without its language branch. As in mmdet's
      ``KnowledgeDistillationSingleStageDetector`` the teacher is kept out of
      the module tree: not trained, not saved in checkpoints.

    Args:
        vqa_weight (float): Weight of the answer KL (0 = off).
        det_weight (float): Weight of the class-score KL (0 = off).
        seg_weight (float): Weight of the mask KL (0 = off).
        temperature (float): Softening temperature of every KL.
        teacher_config (str, optional): Config file of the det/seg teacher.
        teacher_ckpt (str, optional): Its checkpoint.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 vqa_weight: float = 1.0,
                 det_weight: float = 0.0,
                 seg_weight: float = 0.0,
                 temperature: float = 1.0,
                 teacher_config: Optional[str] = None,
                 teacher_ckpt: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.vqa_weight = float(vqa_weight)
        self.det_weight = float(det_weight)
        self.seg_weight = float(seg_weight)
        self.temperature = float(temperature)
        teacher = None
        if self.det_weight or self.seg_weight:
            if not (teacher_config and teacher_ckpt):
                raise ValueError(
                    'distiller: det_weight / seg_weight need teacher_config '
                    'and teacher_ckpt (the det/seg teacher)')
            teacher = self._build_teacher(teacher_config, teacher_ckpt)
        # object.__setattr__: not a submodule (not optimised, not saved)
        object.__setattr__(self, 'teacher', teacher)

    @staticmethod
    def _build_teacher(config: str, ckpt: str) -> nn.Module:
        import os.path as osp

        from mmengine.config import Config
        for path, key in ((config, 'teacher_config'), (ckpt, 'teacher_ckpt')):
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'distiller.{key}: {path} does not exist')
        cfg = copy.deepcopy(Config.fromfile(config).model)
        # a det/seg teacher needs no language model (a second 7B otherwise)
        cfg.language = None
        for key in ('distiller', 'loss_balancer'):
            cfg.pop(key, None)
        adapters = cfg.get('adapters')
        if adapters is not None:
            adapters.groups.pop('vqa', None)
            if adapters.get('train_adapters') is not None:
                adapters.train_adapters = [
                    g for g in adapters.train_adapters if g != 'vqa'
                ]
        teacher = MODELS.build(cfg)
        _load_teacher_weights(teacher, ckpt, config)
        teacher.requires_grad_(False)
        return teacher.eval()

    # ------------------------------------------------------------------
    def vqa_loss(self, model: nn.Module, inputs: Tensor,
                 image_tokens: Tensor, conversations: Sequence,
                 image_index: Sequence[int]) -> Dict[str, Tensor]:
        """LM cross-entropy plus the answer KL toward the adapter-free model.

        Args:
            model (nn.Module): The student ``LlavaDetSeg``.
            inputs (Tensor): Images of the VQA samples (the teacher's input).
            image_tokens (Tensor): The student's projected tokens of them.
            conversations, image_index: As ``LlavaLanguageBranch.loss``.
        """
        from ..adapters import adapters_disabled
        language = model.language
        logits, target = language.answer_logits(image_tokens, conversations,
                                                image_index)
        out = dict(loss_lm=F.cross_entropy(logits.float(), target))
        if self.vqa_weight:
            with torch.no_grad(), adapters_disabled(model):
                vit = model.backbone(inputs)
                tokens = language.image_tokens(vit.hidden_states)
                t_logits, _ = language.answer_logits(tokens, conversations,
                                                     image_index)
            out['loss_kd'] = self.vqa_weight * kl_div_logits(
                logits, t_logits, self.temperature)
        return out

    def dense_loss(self, model: nn.Module, inputs: Tensor,
                   head_outs: Dict[str, Any], det_idx: List[int],
                   seg_idx: List[int]) -> Dict[str, Tensor]:
        """KL of the det / seg outputs toward the teacher checkpoint's.

        Args:
            model (nn.Module): The student ``LlavaDetSeg``.
            inputs (Tensor): The batch (the teacher's input).
            head_outs (dict): The student heads' raw outputs of its loss
                pass: ``det`` the FCOS ``(cls_scores, bbox_preds,
                centernesses)`` of the samples ``det_idx``, ``seg`` the
                decode head's logits of ``seg_idx`` (reused, not
                recomputed).
            det_idx, seg_idx (list[int]): The batch rows of each task.
        """
        if self.teacher is None:
            return {}
        teacher = self.teacher.to(inputs.device)
        with torch.no_grad():
            t_feats, _ = teacher.extract_feat(inputs)
        n = inputs.shape[0]
        out = {}
        if self.det_weight and det_idx and 'det' in head_outs:
            s_cls = head_outs['det'][0]
            with torch.no_grad():
                t_cls = teacher.det_head(
                    teacher._select(t_feats, det_idx, n))[0]
            kd = sum(binary_kl_logits(s, t, self.temperature)
                     for s, t in zip(s_cls, t_cls)) / len(s_cls)
            out['det.loss_kd'] = self.det_weight * kd
        if self.seg_weight and seg_idx and 'seg' in head_outs:
            with torch.no_grad():
                t_seg = teacher.seg_head(teacher._select(t_feats, seg_idx, n))
            out['seg.loss_kd'] = self.seg_weight * kl_div_logits(
                head_outs['seg'], t_seg, self.temperature, dim=1)
        return out


def _teacher_key_dropped(key: str) -> bool:
    """Weights of the parts a det/seg teacher is built without: the language
    branch and the ``vqa`` adapter group (``..._A.vqa.weight``)."""
    return key.startswith(('language.', 'distiller.')) or '.vqa.' in key


def _load_teacher_weights(teacher: nn.Module, ckpt: str, config: str) -> None:
    """Load ``ckpt`` into the teacher strictly, but for the dropped parts.

    mmengine's ``load_checkpoint(strict=False)`` would leave a teacher whose
    checkpoint does not fit its config random, with a silent logger; here
    any other missing, unexpected or mis-shaped weight is a one-line error
    naming both files.
    """
    import re

    from llava_detseg.utils.checkpoint_io import load_checkpoint_file
    obj = load_checkpoint_file(ckpt, map_location='cpu')
    state = obj.get('state_dict', obj) if isinstance(obj, dict) else obj
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()
             if not _teacher_key_dropped(re.sub(r'^module\.', '', k))}
    own = teacher.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    # a 0-dim entry of an old checkpoint fits its 1-element parameter
    # (models/utils/scalar_params.py reshapes it on load)
    shapes = [k for k in own if k in state
              and tuple(own[k].shape) != tuple(state[k].shape)
              and not own[k].numel() == state[k].numel() == 1]
    problems = [f'{len(v)} {what} (e.g. {v[0]})' for what, v in (
        ('missing weights', missing), ('unexpected weights', unexpected),
        ('mis-shaped weights', shapes)) if v]
    if problems:
        raise ValueError(f'distiller.teacher_ckpt {ckpt} does not fit '
                         f'distiller.teacher_config {config}: ' +
                         ', '.join(problems))
    teacher.load_state_dict(state, strict=True)

"""Each task's inputs of ``LlavaDetSeg``: the samples a task gets, the
neck's pyramid, an image-level head's tokens and the language model's image
tokens of them (through the router when there is one), and the auxiliary
losses of those routings. The task parts (``models/tasks``) call these."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.structures import DetDataSample
from torch import Tensor

from llava_detseg.tasks import TASKS
from ..backbones.clip_vit import ViTOutputs
from ..routers.instructions import embed_instructions, instruction_texts
from ..routers.moe import AuxOutputs


class TaskInputs:
    """The per-task input paths of ``LlavaDetSeg`` (a mixin: it reads the
    model's ``router``, ``neck`` and ``language``)."""

    def _task_feats(self, task: str, feats: Optional[Tuple[Tensor]],
                    vit: ViTOutputs, idx: List[int],
                    samples: Optional[List[DetDataSample]]
                    ) -> Tuple[Tensor, ...]:
        """The neck's pyramid for the samples ``idx`` of ``task``."""
        return self._routed_feats(task, feats, vit, idx, samples)[0]

    def _routed_feats(self, task: str, feats: Optional[Tuple[Tensor]],
                      vit: ViTOutputs, idx: List[int],
                      samples: Optional[List[DetDataSample]]
                      ) -> Tuple[Tuple[Tensor, ...], AuxOutputs]:
        """:meth:`_task_feats` and the router's gate outputs."""
        n = vit.maps[0].shape[0]
        if self.router is None:
            return self._select(feats, idx, n), AuxOutputs()
        hidden = self._select(vit.hidden_states, idx, n)
        tokens, _, aux = self.router(
            task, hidden, self._instruction(task, idx, samples, hidden[0]))
        return self.neck(
            self.router.to_maps(tokens, tuple(vit.maps[0].shape[-2:]))), aux

    def _routed_tokens(self, task: str, vit: ViTOutputs, idx: List[int],
                       samples: Optional[List[DetDataSample]]
                       ) -> Tuple[Tensor, AuxOutputs]:
        """(len(idx), 1 + HW, C) tokens of ``task`` for an image-level head:
        the router's one-level path of the task, or without a router the
        backbone's last hidden state; and the routing's gate outputs."""
        hidden = self._select(vit.hidden_states, idx, vit.maps[0].shape[0])
        if self.router is None:
            return hidden[-1], AuxOutputs()
        tokens, _, aux = self.router(
            task, hidden, self._instruction(task, idx, samples, hidden[0]))
        return tokens[0], aux

    def _instruction(self, task: str, idx: List[int],
                     samples: Optional[List[DetDataSample]],
                     like: Tensor) -> Optional[Tensor]:
        """(len(idx), D) instruction embeddings for the router, or None."""
        if self.language is None or not self.router.instruction_dims:
            return None
        if samples is None:
            texts = [self.router.instructions[task]] * len(idx)
        else:
            texts = instruction_texts(self.router.instructions, task,
                                      [samples[i] for i in idx])
        return embed_instructions(self.language, texts, like.device)

    def _vqa_tokens(self, vit: ViTOutputs, idx: List[int],
                    samples: Optional[List[DetDataSample]]) -> Tensor:
        """(len(idx), N, D) projected image tokens for the language model:
        its questions and its <DET>/<SEG> text answers alike (with a router,
        through its ``vqa`` path and a routed projector's layer weights)."""
        return self._image_tokens(vit, idx, samples)[0]

    def _image_tokens(self, vit: ViTOutputs, idx: List[int],
                      samples: Optional[List[DetDataSample]]
                      ) -> Tuple[Tensor, AuxOutputs]:
        """:meth:`_vqa_tokens` and the gate outputs of their routing."""
        hidden = self._select(vit.hidden_states, idx, vit.maps[0].shape[0])
        if self.router is None:
            return self.language.image_tokens(hidden, return_aux=True)
        task = self.router.language_task
        tokens, weights, aux = self.router(
            task, hidden, self._instruction(task, idx, samples, hidden[0]))
        tokens, proj_aux = self.language.project(tokens[0], weights,
                                                 return_aux=True)
        aux += proj_aux
        return tokens, aux

    def _aux_losses(self, aux: AuxOutputs) -> Dict[str, Tensor]:
        """The router's and a routed projector's balance / z-losses over
        the gate outputs of a batch's routings, and the losses ``aux``
        already holds."""
        out = dict(aux.losses)
        owners = dict(router=self.router, projector=getattr(
            self.language, 'projector', None))
        for name, owner in owners.items():
            if hasattr(owner, 'aux_losses'):
                out.update({f'{name}.{k}': v
                            for k, v in owner.aux_losses(aux).items()})
        return out

    @staticmethod
    def _split(samples: Sequence[DetDataSample], task: str) -> List[int]:
        return [
            i for i, s in enumerate(samples) if task in s.metainfo.get(
                'tasks', TASKS)
        ]

    @staticmethod
    def _select(feats: Sequence[Tensor], idx: List[int],
                total: int) -> Tuple[Tensor, ...]:
        if len(idx) == total:
            return tuple(feats)
        index = torch.as_tensor(idx, device=feats[0].device)
        return tuple(f.index_select(0, index) for f in feats)

"""The LLaVA language branch: projector + LLaMA from a llava-hf folder."""
from contextlib import nullcontext
from typing import (Callable, Dict, List, NamedTuple, Optional, Sequence,
                    Tuple, Union)

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor
from transformers import LogitsProcessorList

from llava_detseg.registry import MODELS
from ..routers.moe import AuxOutputs
from ..utils import load_hf_model, load_hf_tokenizer
from .projectors import build_projector
from .conversation import (DETACH_IMAGE, IGNORE_INDEX, IMAGE_PLACEHOLDER,
                           LLAVA_V1_SYSTEM, Conversation,
                           ConversationTokenizer, first_question)
from .context_segment import ContextSegment
from .name_spacing import (resolve_name_spacing, space_after_open,
                           unspace_after_open)
from .region_features import (RegionFeatures, check_region_span,
                              region_mixer)
from .shared_prefix import check_share_prefix, group_by_image, pack
from .special_tokens import setup_detseg_tokens
from .token_scores import ChosenTokenProbs, item_scores
from .vision_tokens import (check_feature_layers, pad_sequences,
                            pool_token_grid, select_feature_layers,
                            splice_image_labels)


@MODELS.register_module()
class LlavaLanguageBranch(BaseModule):
    """Answer questions about an image from the shared backbone's tokens.

    Loads ``LlavaForConditionalGeneration`` (its ``mlp2x_gelu`` projector,
    language model and ``lm_head``) and its tokenizer with
    ``from_pretrained``. Its own vision tower is dropped: the detector's
    backbone (the same CLIP weights in LLaVA-1.5) runs once per image and
    hands its hidden states here.

    Args:
        pretrained (str): Hub id or folder in the llava-hf layout
            (e.g. ``llava-hf/llava-1.5-7b-hf``).
        vision_feature_layer (int | Sequence[int]): Hidden state fed to the
            projector (LLaVA uses the penultimate layer, -2). Several
            layers are concatenated along the channels, as transformers'
            ``LlavaConfig.vision_feature_layer`` list does (a shallow layer
            keeps what the deep ones discard, e.g. colour): the projector
            then takes ``len(layers) x`` the ViT's width, so it must be a
            new one (``projector=dict(..., load_pretrained=False)``).
        vision_feature_select_strategy (str): ``'default'`` drops the CLS
            token, ``'full'`` keeps it.
        system_prompt (str): System text of the v1 template.
        max_length (int): Longest token sequence (visual tokens excluded).
        max_new_tokens (int): Generation budget of an answer.
        freeze_llm (bool): Freeze the language model and ``lm_head``.
        freeze_projector (bool): Freeze the projector.
        torch_dtype (str, optional): dtype to load the weights in.
        quantization (str, optional): ``'4bit'`` (QLoRA: NF4) or ``'8bit'``
            language model through bitsandbytes; needs CUDA, checked before
            loading. Train it with LoRA adapters (``model.adapters``).
        image_token_pool (int): Average-pool the ViT's token grid by this
            factor in each direction before the projector (1: LLaVA-1.5's
            every patch; 2: a quarter of the tokens, as LLaVA-NeXT-style
            spatial pooling does). The dense heads still see every token:
            finer tokens for segmentation need not lengthen each
            conversation by the same factor.
        projector (dict, optional): A projector of
            :mod:`.projectors` (``linear``, ``mlp2x_gelu``, ``identity``,
            ``moe``, ``adaptive_moe``) replacing the checkpoint's; None keeps
            the checkpoint's ``multi_modal_projector``.
        special_tokens (dict, optional): Add the ``<DET>``/``<SEG>``/
            ``<poly>``/``<loc_i>`` tokens of the text format (keys:
            ``num_bins``, default 1000), resize the embeddings and give the
            new rows trainable deltas that train even with ``freeze_llm``
            (see ``special_tokens.py``). Key ``name_spacing`` (``'auto'``
            default, ``True``, ``False``): tokenize the class name after an
            open tag like the names after a separator, where the tokenizer
            would spell it in other pieces (see ``name_spacing.py``; the
            text is unchanged). ``None`` (default): no new tokens.
        region_features (bool | str): Add to each prompt box's class-name
            token the mean of the image tokens its box covers
            (``region_features.py``; needs ``special_tokens``), scaled by a
            tanh gate (``True`` or ``'gate'``), layer-normed to the token
            embeddings' size (``'norm'``) or through a zero-initialised
            linear layer (``'linear'``); or insert it after the box as a
            token of its own (``'token'``). Default False.
        region_span (str): Where an added region goes: the name
            (``'name'``, default), the name and its box's ``<loc_i>`` tokens
            (``'item'``), or the name and the prompt's later mentions of it
            (``'mention'``: the question's own word carries the region).
        context_segment (bool): Add a learned vector to every token of the
            prompt's ``<DET>`` / ``<SEG>`` blocks, so that a block's class
            names differ from the question's (``context_segment.py``; needs
            ``special_tokens``). Default False.
        share_prefix (bool): In training and answer scoring, read the rows
            an image's conversations share (system prompt, image tokens,
            ``<DET>`` block) once, each conversation's rest a segment that
            sees only that prefix and itself, and several images' units
            share a row up to the longest one's length instead of padding
            (``shared_prefix.py``; the logits are those of separate
            sequences). Default True.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 pretrained: str,
                 vision_feature_layer: Union[int, Sequence[int]] = -2,
                 vision_feature_select_strategy: str = 'default',
                 system_prompt: str = LLAVA_V1_SYSTEM,
                 max_length: int = 2048,
                 max_new_tokens: int = 32,
                 freeze_llm: bool = False,
                 freeze_projector: bool = False,
                 torch_dtype: Optional[str] = None,
                 quantization: Optional[str] = None,
                 image_token_pool: int = 1,
                 projector: Optional[dict] = None,
                 special_tokens: Optional[dict] = None,
                 region_features: Union[bool, str] = False,
                 region_span: str = 'name',
                 context_segment: bool = False,
                 share_prefix: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        from transformers import LlavaForConditionalGeneration
        if vision_feature_select_strategy not in ('default', 'full'):
            raise ValueError('vision_feature_select_strategy must be '
                             '"default" or "full", got '
                             f'"{vision_feature_select_strategy}"')
        from ..adapters import check_quantization
        quant = check_quantization(quantization, 'language.quantization')
        self.llava = load_hf_model(
            LlavaForConditionalGeneration, pretrained, torch_dtype=torch_dtype,
            **({} if quant is None else dict(quantization_config=quant)))
        if quant is not None:
            from peft import prepare_model_for_kbit_training
            self.llava = prepare_model_for_kbit_training(
                self.llava, use_gradient_checkpointing=False)
        # The shared backbone replaces it; keeping it would hold a second
        # copy of CLIP in memory and in every checkpoint.
        self.llava.model.vision_tower = None
        self.tokenizer = load_hf_tokenizer(pretrained)
        if self.tokenizer.pad_token is None:
            # Vicuna's tokenizer has none; LLaVA's v1 recipe pads with unk
            self.tokenizer.pad_token = self.tokenizer.unk_token
        self.conv_tokenizer = ConversationTokenizer(
            self.tokenizer, system_prompt=system_prompt, max_length=max_length)
        self.vision_hidden_size = self.llava.config.vision_config.hidden_size
        self.vision_feature_layer = check_feature_layers(
            vision_feature_layer, projector)
        layers = self.vision_feature_layer
        num_layers = 1 if isinstance(layers, int) else len(layers)
        self.mm_projector = None
        if projector is not None:
            self.mm_projector = build_projector(
                projector, self.llava.model.multi_modal_projector,
                self.vision_hidden_size * num_layers,
                self.llava.config.text_config.hidden_size)
            # replaced: an unused copy would stall DDP ("unused parameters")
            self.llava.model.multi_modal_projector = None
        if int(image_token_pool) < 1:
            raise ValueError('language.image_token_pool must be an integer '
                             f'>= 1, got {image_token_pool!r}')
        self.image_token_pool = int(image_token_pool)
        self.keep_cls = vision_feature_select_strategy == 'full'
        self.max_new_tokens = max_new_tokens
        self.share_prefix = check_share_prefix(share_prefix,
                                               self.llava.config)
        if freeze_llm:
            self.llava.model.language_model.requires_grad_(False)
            self.llava.lm_head.requires_grad_(False)
        if freeze_projector:
            self.projector.requires_grad_(False)
        self.detseg_token_ids: List[int] = []
        # whether text is tokenized with a space after each open tag
        self.name_spacing = False
        if special_tokens is not None:
            options = dict(special_tokens)
            spacing = options.pop('name_spacing', 'auto')
            # after freezing: the new tokens' deltas must stay trainable
            self.detseg_token_ids = setup_detseg_tokens(
                self.llava, self.tokenizer, **options)
            self.name_spacing = resolve_name_spacing(self.tokenizer, spacing)
        if self.name_spacing:
            self.conv_tokenizer.text_transform = space_after_open
        self.context_segment = None
        if context_segment:
            if special_tokens is None:
                raise ValueError('language.context_segment needs '
                                 'language.special_tokens (the <DET> format)')
            emb = self.llava.get_input_embeddings().weight
            self.context_segment = ContextSegment(
                self.tokenizer, emb.shape[1], float(emb.detach().std()))
        self.regions = None
        self.region_tokens = region_features == 'token'
        self.region_span = check_region_span(region_span, region_features)
        # finds the boxes of generated answers (their scores) and, with
        # region features, of prompts
        self.items = RegionFeatures(
            self.tokenizer, dict(special_tokens).get('num_bins', 1000)
        ) if special_tokens is not None else None
        if region_features:
            if special_tokens is None:
                raise ValueError('language.region_features needs '
                                 'language.special_tokens (the <DET> format)')
            self.regions = self.items
            emb = self.llava.get_input_embeddings().weight
            gate, proj = region_mixer(
                region_features, self.llava.config.text_config.hidden_size,
                scale=float(emb.detach().std()))
            if gate is not None:
                self.region_gate = gate
            else:
                self.region_proj = proj

    def _mix_region(self, feats: Tensor) -> Tensor:
        """Pooled regions (K, D) as they are added to their names."""
        if hasattr(self, 'region_proj'):
            return self.region_proj(feats)
        return feats * self.region_gate.tanh().to(feats.dtype)

    @property
    def projector(self) -> torch.nn.Module:
        if self.mm_projector is not None:
            return self.mm_projector
        return self.llava.model.multi_modal_projector

    def image_tokens(self, hidden_states: Sequence[Tensor],
                     return_aux: bool = False):
        """Project the chosen ViT layer to (B, N, D) language-model tokens
        (see :meth:`project` for ``return_aux``)."""
        feats = select_feature_layers(hidden_states,
                                      self.vision_feature_layer)
        return self.project(feats, return_aux=return_aux)

    def project(self, feats: Tensor,
                layer_weights: Optional[Tensor] = None,
                return_aux: bool = False):
        """Project (B, 1 + N, C) ViT tokens to (B, N, D) (CLS kept with the
        ``full`` strategy); ``layer_weights`` (B, L) reach a projector that
        takes them (``adaptive_moe``). ``return_aux``: ``(tokens,
        AuxOutputs)``, a routed projector's gate outputs for its balance /
        z-losses (empty for the others)."""
        if not self.keep_cls:
            feats = feats[:, 1:]
        if self.image_token_pool > 1:
            feats = pool_token_grid(feats, self.image_token_pool,
                                    self.keep_cls)
        proj = self.projector
        dtype = proj.linear_1.weight.dtype if hasattr(proj, 'linear_1') \
            else feats.dtype
        feats = feats.to(dtype)
        args = (feats, layer_weights) if getattr(
            proj, 'takes_layer_weights', False) else (feats, )
        if not return_aux:
            return proj(*args)
        if hasattr(proj, 'forward_with_aux'):
            return proj.forward_with_aux(*args)
        return proj(*args), AuxOutputs()

    def _embed(self, ids: List[int], image: Tensor,
               limit: Optional[int] = None,
               labels: Optional[List[int]] = None,
               emb: Optional[Tensor] = None
               ) -> Tuple[Tensor, Optional[List[int]]]:
        """Embed ``ids``, splicing ``image`` (N, D) in at the placeholder
        (``limit``: where the prompt's region features stop); ``labels``
        come back aligned with the rows (``None`` if not given). ``emb``:
        the token embeddings of ``ids``, when looked up already."""
        if emb is None:
            ids_t = torch.tensor(ids, device=image.device)
            emb = self.llava.get_input_embeddings()(ids_t.clamp(min=0))
        if self.context_segment is not None:
            emb = self.context_segment(emb, ids, limit)
        if self.regions is not None and self.region_tokens:
            emb, ids, labels = self.regions.insert(
                emb, ids, labels, image, limit, skip=int(self.keep_cls),
                transform=self._mix_region)
        elif self.regions is not None:
            emb = self.regions.add(emb, ids, image, limit,
                                   skip=int(self.keep_cls),
                                   transform=self._mix_region,
                                   span=self.region_span)
        if labels is not None:
            labels = splice_image_labels(ids, labels, image.shape[0])
        if IMAGE_PLACEHOLDER not in ids:
            return emb, labels
        pos = ids.index(IMAGE_PLACEHOLDER)
        return torch.cat([emb[:pos], image.to(emb.dtype), emb[pos + 1:]
                          ]), labels

    @staticmethod
    def _check(conversation: Conversation) -> None:
        n = sum(t['value'].count('<image>') for t in conversation)
        if n != 1:
            raise ValueError(f'a conversation must hold exactly one <image> '
                             f'token, this one holds {n}: {conversation!r}')

    def loss(self, image_tokens: Tensor,
             conversations: Sequence[Conversation],
             image_index: Sequence[int],
             reduction: str = 'mean') -> Dict[str, Tensor]:
        """LM cross-entropy on answer tokens only.

        Args:
            image_tokens (Tensor): (B, N, D) projected tokens, one per image.
            conversations (Sequence[Conversation]): One per sequence.
            image_index (Sequence[int]): Image of each conversation.
            reduction (str): ``'mean'`` over answer tokens, or ``'none'``
                for each sequence's mean (the layer selector compares them).
        """
        if reduction == 'none':
            logits, target, rows = self.answer_logits(
                image_tokens, conversations, image_index, return_rows=True)
            per_token = F.cross_entropy(
                logits.float(), target, reduction='none')
            count = torch.bincount(rows, minlength=len(conversations))
            per_seq = per_token.new_zeros(len(conversations)).index_add(
                0, rows, per_token) / count.clamp_min(1)
            return dict(loss_lm=per_seq)
        logits, target = self.answer_logits(image_tokens, conversations,
                                            image_index)
        return dict(loss_lm=F.cross_entropy(logits.float(), target))

    def answer_logits(self, image_tokens: Tensor,
                      conversations: Sequence[Conversation],
                      image_index: Sequence[int],
                      return_rows: bool = False) -> tuple:
        """``(logits, target)`` at the answer positions only: (T, V), (T,).

        Shared by ``loss`` and by distillation, which compares these logits
        with a teacher's at the same positions. ``return_rows`` adds each
        position's sequence index (T,).
        """
        embeds, labels, detached = [], [], []
        self.conv_tokenizer.prefetch(conversations)
        for conv in conversations:
            self._check(conv)
        encoded = [self.conv_tokenizer.encode_train(c) for c in conversations]
        # one lookup for the whole batch: one embedding backward instead of
        # one per conversation (each a zero-filled vocabulary-sized grad)
        flat = torch.tensor([t for ids, _ in encoded for t in ids],
                            device=image_tokens.device)
        token_embeds = self.llava.get_input_embeddings()(
            flat.clamp(min=0)).split([len(ids) for ids, _ in encoded])
        with self.regions.reuse_pooled() if self.regions else nullcontext():
            for conv, i, (ids, lab), tok in zip(conversations, image_index,
                                                encoded, token_embeds):
                image = image_tokens[i]
                if conv[0].get(DETACH_IMAGE):
                    # ImageLevelConversations(detach_image=True): the answer
                    # trains the language model, not what made the tokens
                    image = image.detach()
                # the first answer token ends the prompt's region features
                first = next(
                    (k for k, t in enumerate(lab) if t != IGNORE_INDEX),
                    len(ids))
                emb, lab = self._embed(ids, image, first, lab, emb=tok)
                embeds.append(emb)
                labels.append(lab)
                detached.append(bool(conv[0].get(DETACH_IMAGE)))
        if self.share_prefix and len(embeds) > 1:
            packed = pack(embeds, labels,
                          group_by_image(image_index, detached))
            hidden = self.llava.model.language_model(
                inputs_embeds=packed.inputs,
                attention_mask=packed.attention_mask,
                position_ids=packed.position_ids,
                use_cache=False).last_hidden_state
            logits = self.llava.lm_head(hidden.flatten(0, 1)[packed.gather])
            if return_rows:
                return logits, packed.target, packed.seq
            return logits, packed.target
        inputs, mask = pad_sequences(embeds, left=False)
        labels_t = torch.full(mask.shape, IGNORE_INDEX, device=inputs.device)
        for row, lab in enumerate(labels):
            labels_t[row, :len(lab)] = torch.tensor(lab)
        hidden = self.llava.model.language_model(
            inputs_embeds=inputs, attention_mask=mask,
            use_cache=False).last_hidden_state
        # Only answer positions go through lm_head: with a 32k vocabulary and
        # hundreds of visual tokens that is most of the head's cost saved.
        target = labels_t[:, 1:]
        keep = target != IGNORE_INDEX
        logits = self.llava.lm_head(hidden[:, :-1][keep])
        if return_rows:
            return logits, target[keep], keep.nonzero(as_tuple=True)[0]
        return logits, target[keep]

    @torch.no_grad()
    def predict(self, image_tokens: Tensor, questions: Sequence[str],
                image_index: Sequence[int],
                max_new_tokens: Optional[int] = None,
                prefix_allowed_tokens_fn: Optional[Callable] = None,
                logits_processor: Optional[Sequence[Callable]] = None,
                histories: Optional[Sequence[Conversation]] = None,
                generation: Optional[dict] = None,
                return_details: bool = False) -> list:
        """Answers, one per question, in one batched ``generate``.

        Args:
            image_tokens (Tensor): (B, N, D) projected tokens.
            questions (Sequence[str]): One prompt per sequence; the first
                turn of a conversation holds ``<image>``.
            image_index (Sequence[int]): Image of each question.
            max_new_tokens (int, optional): Budget (default the
                constructor's).
            prefix_allowed_tokens_fn, logits_processor: ``generate``'s,
                given the generated ids of each row (see
                ``constrained_decoding.py``).
            histories (Sequence[Conversation], optional): Earlier turns of
                each question's conversation (human / gpt dicts, as the
                model saw them), placed before it.
            generation (dict, optional): ``temperature`` (0: greedy, the
                default), ``top_p``, ``streamer`` (a transformers streamer;
                one question only) and ``stopping_criteria``.
            return_details (bool): Return :class:`Generated` records (text,
                token count, whether the budget cut it) instead of strings.
        """
        if not questions:
            return []
        histories = histories or [None] * len(questions)
        embeds = []
        for q, i, h in zip(questions, image_index, histories):
            ids = self.conv_tokenizer.encode_prompt(q, h)
            # as in training, only the first question's boxes get region
            # features, not those of the history's answers
            limit = len(self.conv_tokenizer.encode_prompt(
                first_question(h)[0])) if h and (
                    self.regions or self.context_segment) else None
            embeds.append(self._embed(ids, image_tokens[i], limit)[0])
        inputs, mask = pad_sequences(embeds, left=True)
        gen = dict(generation or {})
        temperature = float(gen.pop('temperature', 0.0) or 0.0)
        top_p = float(gen.pop('top_p', 1.0) or 1.0)
        sampling = dict(do_sample=True, temperature=temperature,
                        top_p=top_p) if temperature > 0 else dict(
                            do_sample=False)
        budget = max_new_tokens or self.max_new_tokens
        # transformers syncs every decoding step over the ranks of an
        # FSDP-managed model (for decoder layers sharded as units of their
        # own). Here the whole model is one FSDP unit, gathered for the whole
        # forward, and ranks answer different samples or none: a synced
        # loop would wait for a rank that is not generating.
        gen.setdefault('synced_gpus', False)
        processors = LogitsProcessorList(logits_processor or [])
        if return_details:
            # first, before constrained decoding: the model's own
            # distribution, not the one the format's masks leave
            recorder = ChosenTokenProbs()
            processors.insert(0, recorder)
        out = self.llava.generate(
            inputs_embeds=inputs,
            attention_mask=mask,
            max_new_tokens=budget,
            num_beams=1,
            prefix_allowed_tokens_fn=prefix_allowed_tokens_fn,
            logits_processor=processors,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            **sampling, **gen)
        texts = [
            t.strip()
            for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)
        ]
        if self.name_spacing:
            texts = [unspace_after_open(t) for t in texts]
        if not return_details:
            return texts
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        details = []
        probs = recorder.finish(out).tolist()
        for text, row, p in zip(texts, out.tolist(), probs):
            ended = eos in row
            n = row.index(eos) if ended else len(
                [t for t in row if t != pad])
            scores = tuple(item_scores(self.items, row[:n], p)) \
                if self.items is not None else ()
            details.append(Generated(text, n, not ended and n >= budget,
                                     scores))
        return details


class Generated(NamedTuple):
    """One generated answer: its text, how many tokens it took, whether
    ``max_new_tokens`` cut it before the end-of-sequence token, and the
    model's confidence in each ``<DET>`` box it wrote (``token_scores``)."""
    text: str
    num_tokens: int
    truncated: bool
    box_scores: Tuple[float, ...] = ()

"""Write tiny, randomly initialised checkpoints in the Hugging Face layouts.

The embedded default and the tests cannot download ``openai/clip-vit-*`` or
``llava-hf/llava-1.5-7b-hf``; instead they build models of the same classes
from tiny configs, ``save_pretrained`` them to a local folder and load them
back through the same ``from_pretrained`` path that real checkpoints take.
"""
import os
import os.path as osp
from typing import Dict, Optional

import torch

# Text the offline BPE tokenizer is trained on: the words users and the
# shapes data use, so common words are single tokens. Byte-level fallback
# keeps every other string encodable and decodable exactly.
_CORPUS = [
    'USER: ASSISTANT: Answer: How many are there? What color is the ? '
    'Is there a ? yes no Yes No',
    'circle circles square squares triangle triangles object objects',
    'red green blue yellow white black gray orange purple',
    '0 1 2 3 4 5 6 7 8 9 10 zero one two three four five six seven eight '
    'nine ten',
    'Detect all objects. Find every Segment the Describe the image. '
    'left right top bottom first second third',
    'A chat between a curious user and an artificial intelligence assistant.',
]
SPECIAL_TOKENS = ('<unk>', '<s>', '</s>', '<pad>', '<image>')

TINY_VISION = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=4,
    num_attention_heads=4,
    image_size=128,
    patch_size=16,
    projection_dim=128)
TINY_TEXT = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=512,
    rms_norm_eps=1e-6)
# The real widths: openai/clip-vit-large-patch14-336's vision tower and
# Vicuna-7B v1.5's decoder (llava-hf/llava-1.5-7b-hf pads its vocabulary to
# 32064), cut to two decoder layers so it trains on a CPU.
FULL_WIDTH_VISION = dict(
    hidden_size=1024,
    intermediate_size=4096,
    num_hidden_layers=24,
    num_attention_heads=16,
    image_size=336,
    patch_size=14,
    projection_dim=768,
    hidden_act='quick_gelu')
FULL_WIDTH_TEXT = dict(
    hidden_size=4096,
    intermediate_size=11008,
    num_hidden_layers=2,
    num_attention_heads=32,
    num_key_value_heads=32,
    max_position_embeddings=4096,
    rms_norm_eps=1e-5,
    vocab_size=32064)


def build_tiny_tokenizer(vocab_size: int = 512, detseg_tokens: bool = False):
    """Train a byte-level BPE tokenizer offline and wrap it for transformers.

    Args:
        vocab_size (int): BPE vocabulary size (before added tokens).
        detseg_tokens (bool): Also add the text format's ``<DET>`` ...
            ``<loc_999>`` tokens (ids after the BPE vocabulary; the
            language branch adds them itself when they are missing).

    Returns:
        PreTrainedTokenizerFast: ids 0..4 are ``<unk> <s> </s> <pad> <image>``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers import processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token='<unk>'))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False)
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    # LLaMA prepends BOS; the template then never has to.
    tok.post_processor = processors.TemplateProcessing(
        single='<s> $A', special_tokens=[('<s>', tok.token_to_id('<s>'))])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token='<unk>',
        bos_token='<s>',
        eos_token='</s>',
        pad_token='<pad>',
        extra_special_tokens={'image_token': '<image>'},
        padding_side='right')
    if detseg_tokens:
        from .special_tokens import add_detseg_tokens
        add_detseg_tokens(fast)
    return fast


def write_tiny_checkpoints(out_dir: str,
                           vision: Optional[Dict] = None,
                           text: Optional[Dict] = None,
                           seed: int = 0,
                           force: bool = False,
                           tokenizer: str = 'bpe',
                           names: Optional[Dict[str, str]] = None,
                           save_dtype: Optional[torch.dtype] = None
                           ) -> Dict[str, str]:
    """Write ``clip-vit-tiny/`` and ``llava-tiny/`` under ``out_dir``.

    ``clip-vit-tiny`` is a ``CLIPVisionModel`` folder (as
    ``openai/clip-vit-large-patch14-336``); ``llava-tiny`` is a
    ``LlavaForConditionalGeneration`` folder with its tokenizer (as
    ``llava-hf/llava-1.5-7b-hf``) whose vision tower holds the same weights,
    just as LLaVA-1.5 keeps its CLIP tower frozen. An existing
    ``clip-vit-tiny`` is kept (unless ``force``) and copied into the tower.

    Args:
        out_dir (str): Parent folder.
        vision (dict, optional): ``CLIPVisionConfig`` overrides.
        text (dict, optional): ``LlamaConfig`` overrides.
        seed (int): Seed of the random initialisation.
        force (bool): Rewrite folders that already exist.
        tokenizer (str): ``'bpe'`` (the byte-level BPE of
            :func:`build_tiny_tokenizer`) or ``'llama'``: the folder is
            ``llava-tiny-llama/`` with a SentencePiece tokenizer in Vicuna's
            layout (:func:`write_llama_tokenizer`), no pad and no image token
            (as ``liuhaotian/llava-v1.5-7b``).
        names (dict, optional): Folder names ``{'clip': ..., 'llava': ...}``
            instead of the tiny ones.
        save_dtype (torch.dtype, optional): Dtype of the saved LLaVA weights
            (llava-hf stores half precision); CLIP is saved in fp32.

    Returns:
        dict: ``{'clip': path, 'llava': path}``.
    """
    from transformers import (CLIPVisionConfig,
                              CLIPVisionModel, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration)
    if tokenizer not in ('bpe', 'llama'):
        raise ValueError(f'write_tiny_checkpoints: tokenizer must be "bpe" or '
                         f'"llama", got {tokenizer!r}')
    names = names or dict(
        clip='clip-vit-tiny',
        llava='llava-tiny' if tokenizer == 'bpe' else 'llava-tiny-llama')
    paths = {k: osp.join(out_dir, names[k]) for k in ('clip', 'llava')}
    done = {k: osp.isfile(osp.join(p, 'config.json')) and not force
            for k, p in paths.items()}
    if all(done.values()):
        return paths

    torch.manual_seed(seed)
    vicuna = tokenizer == 'llama'
    if not vicuna:
        tok = build_tiny_tokenizer()
        image_token_id = tok.convert_tokens_to_ids('<image>')
    else:
        from transformers import LlamaTokenizer

        from .llama_tokenizer import write_llama_tokenizer
        tok = LlamaTokenizer.from_pretrained(
            write_llama_tokenizer(paths['llava'], seed=seed, force=force))
        # LLaVA's own checkpoints have none: the branch places the image
        # by embedding (IMAGE_PLACEHOLDER), never through this id
        image_token_id = tok.unk_token_id
    vision_cfg = CLIPVisionConfig(**{**TINY_VISION, **(vision or {})})
    text_cfg = LlamaConfig(
        **{
            **TINY_TEXT,
            **(text or {}),
            # a padded vocabulary (llava-hf's 32064) may exceed the
            # tokenizer's; never fewer rows than tokens
            'vocab_size': max(len(tok), (text or {}).get('vocab_size', 0)),
            'bos_token_id': tok.bos_token_id,
            'eos_token_id': tok.eos_token_id,
            'pad_token_id': tok.pad_token_id,
        })
    llava_cfg = LlavaConfig(
        vision_config=vision_cfg,
        text_config=text_cfg,
        image_token_id=image_token_id,
        vision_feature_layer=-2,
        vision_feature_select_strategy='default',
        projector_hidden_act='gelu')
    llava = LlavaForConditionalGeneration(llava_cfg)
    llava.eval()
    os.makedirs(out_dir, exist_ok=True)

    if done['clip']:  # one CLIP for both tokenizers' folders
        clip = CLIPVisionModel.from_pretrained(paths['clip'])
        llava.model.vision_tower.load_state_dict(clip.state_dict())
    else:
        clip = CLIPVisionModel(vision_cfg)
        clip.load_state_dict(llava.model.vision_tower.state_dict())
        clip.save_pretrained(paths['clip'])

    if save_dtype is not None:
        llava.to(save_dtype)
    llava.save_pretrained(paths['llava'])
    if not vicuna:  # Vicuna's files are written; a re-save would convert
        tok.save_pretrained(paths['llava'])
    return paths


def write_full_width_checkpoints(out_dir: str,
                                 num_text_layers: int = 2,
                                 seed: int = 0,
                                 force: bool = False) -> Dict[str, str]:
    """Random CLIP ViT-L/14-336 and LLaVA-1.5-7B-width folders.

    The architecture of ``openai/clip-vit-large-patch14-336`` and
    ``llava-hf/llava-1.5-7b-hf`` (hidden sizes, heads, 576 image tokens,
    the 32064-row vocabulary) with the decoder cut to ``num_text_layers``
    and the SentencePiece tokenizer of :func:`write_llama_tokenizer`, so the
    full model's code runs at its real widths on a CPU. LLaVA is saved in
    bf16, as the full config loads it.

    Returns:
        dict: ``{'clip': path, 'llava': path}`` (``clip-vit-l14-336-random``,
        ``llava-7b-width-{n}layer-random``).
    """
    return write_tiny_checkpoints(
        out_dir,
        vision=FULL_WIDTH_VISION,
        text={**FULL_WIDTH_TEXT, 'num_hidden_layers': num_text_layers},
        seed=seed,
        force=force,
        tokenizer='llama',
        names=dict(clip='clip-vit-l14-336-random',
                   llava=f'llava-7b-width-{num_text_layers}layer-random'),
        save_dtype=torch.bfloat16)

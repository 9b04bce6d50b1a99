"""A small LLaMA-family tokenizer, trained offline, in Vicuna's file layout.

``lmsys/vicuna-7b-v1.5`` (the language model of LLaVA-1.5) ships a
SentencePiece BPE model with byte fallback (``tokenizer.model``) and
``tokenizer_config.json`` / ``special_tokens_map.json``; it has no pad token
(LLaVA sets ``pad = unk``). Its tokenizer behaves unlike the project's tiny
byte-level BPE: every piece of text gets a "▁" dummy prefix, digits are split
and spaces are "▁" pieces. :func:`write_llama_tokenizer` trains a model of the
same kind with ``sentencepiece`` on text the project generates (shapes
questions and answers, ``<DET>`` / ``<SEG>`` answers, the v1 template) and
writes that layout, so tests load it as users load Vicuna's:
``LlamaTokenizer.from_pretrained(folder)``.

Loading a ``tokenizer.model`` with transformers 5 needs ``sentencepiece`` and
``protobuf`` (it is converted to a ``tokenizers`` model on load).
"""
import json
import os
import os.path as osp
import re
from typing import List

import numpy as np

# LLaMA's ids: unk 0, bos 1, eos 2, no pad
UNK, BOS, EOS = '<unk>', '<s>', '</s>'
_FORMAT_TAG = re.compile(r'</?(DET|SEG|poly)>|<loc_\d+>')


def detseg_corpus(num_images: int = 48, seed: int = 0) -> List[str]:
    """Lines of text the project writes: Vicuna v1 template turns with the
    shapes generator's questions and answers, the text-format instructions
    and their ``<DET>`` / ``<SEG>`` answers, and COCO / ADE20K class names.

    The format's tags are taken out (replaced by a space): Vicuna's
    vocabulary never saw them either, they are added tokens.
    """
    from llava_detseg.datasets.generation.shapes import (CLASSES,
                                                         generate_image,
                                                         make_questions)
    from llava_detseg.datasets.transforms.text_instructions import (ORDINALS,
                                                                    TEMPLATES,
                                                                    pluralize)
    from llava_detseg.structures import DetSegTextCodec
    from .conversation import LLAVA_V1_SYSTEM

    rng = np.random.default_rng(seed)
    codec = DetSegTextCodec(CLASSES)
    lines = [LLAVA_V1_SYSTEM]
    for _ in range(num_images):
        img, sem, instances = generate_image(rng, 64, 96)
        h, w = sem.shape
        boxes = np.array([[x, y, x + bw, y + bh]
                          for x, y, bw, bh in (i['bbox'] for i in instances)])
        labels = np.array([i['cls'] for i in instances])
        det = codec.encode_det(boxes, labels, (h, w))
        seg = codec.encode_seg(sem)
        for q, a in make_questions(rng, instances):
            lines.append(f'USER: {q} ASSISTANT: {a}')
        cls = CLASSES[int(rng.integers(len(CLASSES)))]
        fmt = dict(
            cls=cls,
            plural=pluralize(cls),
            plural2=pluralize(cls),
            ordinal=ORDINALS[int(rng.integers(len(ORDINALS)))])
        for templates in TEMPLATES.values():
            question = templates[int(rng.integers(len(templates)))]
            answer = codec.encode_response(
                str(len(instances)), [det, seg][:int(rng.integers(1, 3))])
            lines.append(f'USER: {question.format(**fmt)} '
                         f'ASSISTANT: {answer}')
    try:  # real class names, so that they are not all spelled in bytes
        from mmdet.datasets import CocoDataset
        from mmseg.datasets import ADE20KDataset
        for names in (CocoDataset.METAINFO['classes'],
                      ADE20KDataset.METAINFO['classes']):
            lines.append('; '.join(' '.join(n.split()) for n in names))
    except ImportError:  # pragma: no cover - the corpus is still usable
        pass
    # runs of tags become one space, as if the tags were never written
    return [
        re.sub(' +', ' ', _FORMAT_TAG.sub(' ', line)).strip() for line in lines
    ]


def train_llama_sentencepiece(lines: List[str],
                              model_file: str,
                              vocab_size: int = 1024) -> str:
    """Train a SentencePiece BPE model with LLaMA's trainer settings.

    Byte fallback (any text encodes, no ``<unk>``), split digits, a dummy
    prefix, whitespace kept as is, no normalisation; ids 0/1/2 are
    ``<unk> <s> </s>`` and there is no pad piece.

    Returns:
        str: ``model_file``.
    """
    import sentencepiece as spm
    prefix = model_file[:-len('.model')] if model_file.endswith(
        '.model') else model_file
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=prefix,
        model_type='bpe',
        vocab_size=vocab_size,
        # a small corpus may not have enough merges for vocab_size
        hard_vocab_limit=False,
        byte_fallback=True,
        character_coverage=1.0,
        split_digits=True,
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        normalization_rule_name='identity',
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2)
    if prefix + '.model' != model_file:
        os.replace(prefix + '.model', model_file)
    os.remove(prefix + '.vocab')
    return model_file


def write_llama_tokenizer(out_dir: str,
                          vocab_size: int = 1024,
                          num_images: int = 48,
                          seed: int = 0,
                          legacy: bool = False,
                          force: bool = False) -> str:
    """Write ``tokenizer.model``, ``tokenizer_config.json`` and
    ``special_tokens_map.json`` (Vicuna v1.5's layout) to ``out_dir``.

    Args:
        out_dir (str): The tokenizer folder.
        vocab_size (int): SentencePiece vocabulary size (at least the 256
            byte pieces, 3 meta pieces and the corpus's characters).
        num_images (int): Generated shapes images the corpus describes.
        seed (int): Seed of the generated corpus.
        legacy (bool): transformers' ``legacy`` flag: ``False`` (Vicuna
            v1.5) prefixes "▁" only at the start of the text, ``True`` also
            after every added token.
        force (bool): Rewrite a folder that exists.

    Returns:
        str: ``out_dir``.
    """
    model = osp.join(out_dir, 'tokenizer.model')
    if osp.isfile(model) and not force:
        return out_dir
    os.makedirs(out_dir, exist_ok=True)
    train_llama_sentencepiece(
        detseg_corpus(num_images, seed), model, vocab_size)
    config = dict(
        add_bos_token=True,
        add_eos_token=False,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=None,
        clean_up_tokenization_spaces=False,
        legacy=legacy,
        model_max_length=4096,
        padding_side='right',
        sp_model_kwargs={},
        tokenizer_class='LlamaTokenizer')
    with open(osp.join(out_dir, 'tokenizer_config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    with open(osp.join(out_dir, 'special_tokens_map.json'), 'w') as f:
        json.dump(
            dict(bos_token=BOS, eos_token=EOS, unk_token=UNK), f, indent=2)
    return out_dir

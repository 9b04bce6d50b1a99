"""What the router is conditioned on: each sample's instruction text and
its embedding by the language model's input table (no language-model
pass)."""
from typing import Dict, List, Sequence

import torch
from torch import Tensor, nn

DEFAULT_INSTRUCTIONS = dict(
    det='Detect all objects.',
    seg='Segment the image.',
    vqa='Describe the image.')


def instruction_texts(defaults: Dict[str, str], task: str,
                      samples: Sequence) -> List[str]:
    """One instruction text per sample for ``task``.

    Samples of a task whose part reads questions (vqa) use their questions
    (joined); the others (det, seg, cls...) an ``instructions`` metainfo
    entry for the task if present, otherwise ``defaults[task]``
    (``router.instructions``).
    """
    from llava_detseg.tasks import task_spec
    from_questions = task_spec(task).questions_as_instruction
    texts = []
    for s in samples:
        given = (s.metainfo.get('instructions') or {}).get(task)
        if given:
            texts.append(given)
            continue
        if from_questions:
            qs = [
                turn['value'] for conv in s.metainfo.get(
                    'conversations', []) for turn in conv[:1]
            ]
            if qs:
                texts.append(' '.join(qs).replace('<image>', ' '))
                continue
        texts.append(defaults[task])
    return texts

@torch.no_grad()
def embed_instructions(language: nn.Module, texts: Sequence[str],
                       device: torch.device) -> Tensor:
    """Mean of the language model's input embeddings of each text.

    Detached: the instruction is a feature for the router, the router's
    losses must not move the language model's embedding table.
    """
    table = language.llava.get_input_embeddings()
    out = []
    for text in texts:
        ids = language.tokenizer(
            text, add_special_tokens=False)['input_ids'] or [0]
        emb = table(torch.tensor(ids, device=table.weight.device))
        out.append(emb.float().mean(0))
    return torch.stack(out).to(device)

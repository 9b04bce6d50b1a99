"""Transforms on the conversations a sample carries."""
from typing import List, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from llava_detseg.models.language.conversation import DETACH_IMAGE
from llava_detseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SampleConversations(BaseTransform):
    """Keep a random subset of an image's conversations for this step.

    All of an image's questions share its single backbone pass, so training
    on several at once is cheap; ``max_num`` bounds the language-model batch.

    Args:
        max_num (int, optional): Most conversations kept (``None``: all).
    """

    def __init__(self, max_num: Optional[int] = None) -> None:
        if max_num is not None and max_num < 1:
            raise ValueError(f'SampleConversations: max_num must be >= 1, '
                             f'got {max_num}')
        self.max_num = max_num

    def transform(self, results: dict) -> dict:
        convs = results.get('conversations') or []
        if self.max_num is not None and len(convs) > self.max_num:
            keep = np.random.choice(len(convs), self.max_num, replace=False)
            results['conversations'] = [convs[i] for i in sorted(keep)]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(max_num={self.max_num})'


@TRANSFORMS.register_module()
class ImageLevelConversations(BaseTransform):
    """Ask an image's class and caption in words, as conversations.

    The language branch then learns the image-level labels too (LLaVA's
    first stage trains on captions this way): the class (``gt_label``,
    from ``ShapesDataset`` with ``cls`` or a classification set) becomes
    ``label_question`` answered with its name, and the first caption
    (``captions``, with ``itc``) becomes ``caption_question`` answered with
    the caption. Put it after ``SampleConversations``: these are asked at
    every step.

    Training pipelines add them to ``conversations``. Test pipelines
    (``as_questions=True``) add them as ``vqa_questions`` with the answer
    types ``'class'`` and ``'caption'``, which ``VQAMetric`` reports apart
    from yes/no, number and other; ``tasks`` says which of the two are
    asked (the shapes configs score the class only: a caption's exact
    match says little and would weigh on the overall accuracy).

    Args:
        classes (Sequence[str]): The names of ``gt_label``'s indices (the
            dataset's ``classes`` or ``cls_classes``).
        tasks (Sequence[str]): ``'cls'`` (the class) and/or ``'itc'`` (the
            caption).
        label_question (str, optional): Defaults to the ``cls`` task's
            instruction.
        caption_question (str, optional): Defaults to the ``itc`` task's
            instruction.
        as_questions (bool): Scored questions (test) instead of
            training conversations.
        detach_image (bool): The training conversations read the image's
            tokens without passing their gradient back: they train the
            language model only, not the projector or the backbone
            (``DETACH_IMAGE`` on the first turn; ``MergeConversations`` keeps
            them apart from the image's other questions). On the embedded
            default the caption and class turns trained into the shared ViT
            cost the detection head 0.04 mAP (0.583 against 0.620; README,
            "Tasks as parts").
    """
    ANSWER_TYPES = dict(cls='class', itc='caption')

    def __init__(self, classes: Sequence[str],
                 tasks: Sequence[str] = ('cls', 'itc'),
                 label_question: Optional[str] = None,
                 caption_question: Optional[str] = None,
                 as_questions: bool = False,
                 detach_image: bool = False) -> None:
        from llava_detseg.tasks import task_spec
        bad = [t for t in tasks if t not in self.ANSWER_TYPES]
        if bad or not tasks:
            raise ValueError(
                f'ImageLevelConversations: tasks must name "cls" and/or '
                f'"itc", got {list(tasks)}')
        if 'cls' in tasks and not classes:
            raise ValueError('ImageLevelConversations: asking the class '
                             '(tasks has "cls") needs classes')
        self.classes = tuple(classes)
        self.tasks = tuple(tasks)
        # the wording is the task's own instruction unless a config says
        self.questions = dict(
            cls=label_question or task_spec('cls').instruction,
            itc=caption_question or task_spec('itc').instruction)
        self.as_questions = as_questions
        self.detach_image = detach_image

    def _answers(self, results: dict) -> List[tuple]:
        out = []
        if 'cls' in self.tasks and results.get('gt_label') is not None:
            label = int(np.asarray(results['gt_label']).reshape(-1)[0])
            if not 0 <= label < len(self.classes):
                raise ValueError(
                    f'{results.get("img_path")}: gt_label {label} is not an '
                    f'index of the {len(self.classes)} classes '
                    'ImageLevelConversations was given')
            out.append(('cls', self.classes[label]))
        caps = results.get('captions') or []
        if 'itc' in self.tasks and caps:
            out.append(('itc', caps[0]))
        return out

    def transform(self, results: dict) -> dict:
        answers = self._answers(results)
        if not answers:
            return results
        if self.as_questions:
            results['vqa_questions'] = list(
                results.get('vqa_questions') or []) + [
                    dict(question=self.questions[t], answers=[a],
                         meta=dict(answer_type=self.ANSWER_TYPES[t]))
                    for t, a in answers]
        else:
            flag = {DETACH_IMAGE: True} if self.detach_image else {}
            results['conversations'] = list(
                results.get('conversations') or []) + [
                    [{'from': 'human',
                      'value': f'<image>\n{self.questions[t]}', **flag},
                     {'from': 'gpt', 'value': a}] for t, a in answers]
        tasks = list(results.get('tasks') or [])
        if 'vqa' not in tasks:  # the language branch now serves the image
            results['tasks'] = tasks + ['vqa']
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(tasks={self.tasks}, '
                f'as_questions={self.as_questions}, '
                f'detach_image={self.detach_image})')


@TRANSFORMS.register_module()
class MergeConversations(BaseTransform):
    """Join an image's conversations into one multi-turn conversation, in a
    random order (training pipelines).

    The generated data (and VQAv2-style sets) hold one question per
    conversation, and each is a sequence of its own: the image's tokens
    are read by the language model once per question. LLaVA trains an
    image's questions as the turns of one conversation, the image once at
    the start; every answer turn is still a target. On the embedded
    default that is 16 sequences of ~150 tokens a step where 96 sequences
    of ~85 tokens were padded to the longest (captions as conversations
    would pad them further). The order is drawn anew each step, so no
    answer can be learnt from the turn it follows; prediction asks each
    question alone, as before. Conversations that read the image detached
    (``ImageLevelConversations(detach_image=True)``) are merged among
    themselves: one sequence carries one kind of image gradient.

    Args:
        max_turns (int, optional): Most questions per merged conversation
            (``None``: all); more become further conversations.
    """

    def __init__(self, max_turns: Optional[int] = None) -> None:
        if max_turns is not None and max_turns < 1:
            raise ValueError(f'MergeConversations: max_turns must be >= 1, '
                             f'got {max_turns}')
        self.max_turns = max_turns

    @staticmethod
    def _without_image(turn: dict) -> dict:
        value = turn['value'].replace('<image>\n', '').replace('<image>', '')
        return dict(turn, value=value.strip())

    def transform(self, results: dict) -> dict:
        convs = list(results.get('conversations') or [])
        if len(convs) < 2:
            return results
        order = np.random.permutation(len(convs))
        merged = []
        for detached in (False, True):
            kind = [convs[i] for i in order
                    if bool(convs[i][0].get(DETACH_IMAGE)) == detached]
            if not kind:
                continue
            size = self.max_turns or len(kind)
            for start in range(0, len(kind), size):
                group = kind[start:start + size]
                turns = list(group[0])
                # the image once, where the first question put it
                for conv in group[1:]:
                    turns += [self._without_image(t) for t in conv]
                merged.append(turns)
        results['conversations'] = merged
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(max_turns={self.max_turns})'

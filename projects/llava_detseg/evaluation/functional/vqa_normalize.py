"""VQAv2 answer normalisation and accuracy.

A re-implementation of ``processPunctuation`` and ``processDigitArticle``
from the official evaluation script
(``GT-Vision-Lab/VQA: PythonEvaluationTools/vqaEvaluation/vqaEval.py``),
including its quirks, so that numbers are comparable with published VQAv2
results. Two additions handle raw generations of the model: a leading
``Answer:`` prefix and a trailing ``</s>`` are dropped before normalising.
"""
import re
from typing import List, Sequence, Union

__all__ = ['normalize_answer', 'vqa_accuracy']

# Copied key for key from the official script, including entries that can
# never match (e.g. ``'Im'``: words are lowercased before the lookup).
CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't",
    "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't",
    "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've",
    "hasnt": "hasn't", "havent": "haven't", "hed": "he'd",
    "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's",
    "howd": "how'd", "howll": "how'll", "hows": "how's",
    "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm", "Ive": "I've",
    "isnt": "isn't", "itd": "it'd", "itd've": "it'd've",
    "it'dve": "it'd've", "itll": "it'll", "let's": "let's",
    "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't",
    "notve": "not've", "oclock": "o'clock", "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at",
    "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd", "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've", "somebodyll": "somebody'll",
    "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've",
    "someonell": "someone'll", "someones": "someone's",
    "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll",
    "thats": "that's", "thered": "there'd", "thered've": "there'd've",
    "there'dve": "there'd've", "therere": "there're", "theres": "there's",
    "theyd": "they'd", "theyd've": "they'd've", "they'dve": "they'd've",
    "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've",
    "we'dve": "we'd've", "weve": "we've", "werent": "weren't",
    "whatll": "what'll", "whatre": "what're", "whats": "what's",
    "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd",
    "whod've": "who'd've", "who'dve": "who'd've", "wholl": "who'll",
    "whos": "who's", "whove": "who've", "whyll": "why'll",
    "whyre": "why're", "whys": "why's", "wont": "won't",
    "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've",
    "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've",
    "you'dve": "you'd've", "youll": "you'll", "youre": "you're",
    "youve": "you've",
}  # yapf: disable

MANUAL_MAP = {
    'none': '0', 'zero': '0', 'one': '1', 'two': '2', 'three': '3',
    'four': '4', 'five': '5', 'six': '6', 'seven': '7', 'eight': '8',
    'nine': '9', 'ten': '10',
}  # yapf: disable

ARTICLES = frozenset(['a', 'an', 'the'])

# Neither ``.`` (see ``_PERIOD_STRIP``), ``'`` (contractions) nor ``:`` is
# in the official list.
PUNCT = [
    ';', r'/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-',
    '>', '<', '@', '`', ',', '?', '!'
]

# The official pattern is ``(?!<=\d)(\.)(?!\d)``; ``(?!<=\d)`` is a typo for a
# look-behind and in effect never fires, so every period NOT followed by a
# digit is deleted: "a.m." -> "am", "two." -> "two", but "3.5" is kept.
_PERIOD_STRIP = re.compile(r'(?!<=\d)(\.)(?!\d)')
_COMMA_STRIP = re.compile(r'(\d)(,)(\d)')
# The official script calls ``periodStrip.sub("", text, re.UNICODE)``: the
# flag lands in the positional ``count`` argument, so at most
# ``re.UNICODE == 32`` periods are removed. Kept for exact parity.
_PERIOD_STRIP_COUNT = int(re.UNICODE)

_ANSWER_PREFIX = re.compile(r'^answer\s*:', re.IGNORECASE)
_EOS = '</s>'


def _process_punctuation(text: str) -> str:
    """``processPunctuation`` of the official script.

    A punctuation mark that touches a space anywhere in the text is deleted,
    otherwise it becomes a space ("red,blue" -> "red blue"). If the text has
    a comma between two digits anywhere ("10,000"), every mark is deleted
    instead. Both conditions look at the *input* text, as the original does.
    """
    out = text
    has_digit_comma = _COMMA_STRIP.search(text) is not None
    for p in PUNCT:
        if (p + ' ' in text or ' ' + p in text) or has_digit_comma:
            out = out.replace(p, '')
        else:
            out = out.replace(p, ' ')
    return _PERIOD_STRIP.sub('', out, count=_PERIOD_STRIP_COUNT)


def _process_digit_article(text: str) -> str:
    """``processDigitArticle`` of the official script.

    Lowercases, maps number words to digits, drops articles, expands
    contractions and joins on single spaces (``split()`` collapses runs of
    whitespace).
    """
    words: List[str] = []
    for word in text.lower().split():
        word = MANUAL_MAP.get(word, word)
        if word not in ARTICLES:
            words.append(CONTRACTIONS.get(word, word))
    return ' '.join(words)


def _strip_generation_markers(text: str) -> str:
    """Drop a trailing ``</s>`` and a leading ``Answer:`` of a generation."""
    text = text.strip()
    if text.endswith(_EOS):
        text = text[:-len(_EOS)].strip()
    return _ANSWER_PREFIX.sub('', text, count=1).strip()


def normalize_answer(text: str) -> str:
    """Normalise an answer the way the official VQAv2 evaluation does.

    Args:
        text (str): A raw answer: a model generation or an annotation.

    Returns:
        str: The normalised answer, e.g. ``'Answer: Two dogs.</s>'`` ->
        ``'2 dogs'``.
    """
    text = text.replace('\n', ' ').replace('\t', ' ')
    text = _strip_generation_markers(text)
    text = _process_punctuation(text)
    return _process_digit_article(text)


def vqa_accuracy(pred: str, gt_answers: Union[str, Sequence[str]]) -> float:
    """VQA accuracy of one prediction.

    With one ground-truth answer this is exact match after normalisation.
    With several (VQAv2 has 10 per question) it is the official formula:
    for every ground-truth answer left out in turn, ``min(1, #matches among
    the others / 3)``, averaged over the left-out answers. So 1 match gives
    0.3, 2 give 0.6, 3 give 0.9 and 4 or more give 1.0.

    Unlike the official script, which applies only ``processPunctuation`` to
    the ground truth (and only when the annotators disagree), both sides get
    the full normalisation here. VQAv2 annotations are already normalised,
    and free-form ground truth ("Two") then compares fairly with the
    prediction.

    Args:
        pred (str): The predicted answer, raw.
        gt_answers (str | Sequence[str]): One ground-truth answer, or all the
            annotators' answers.

    Returns:
        float: Accuracy in ``[0, 1]``.
    """
    if isinstance(gt_answers, str):
        gt_answers = [gt_answers]
    if len(gt_answers) == 0:
        raise ValueError('vqa_accuracy needs at least one ground-truth answer')
    pred_norm = normalize_answer(pred)
    matches = [normalize_answer(gt) == pred_norm for gt in gt_answers]
    if len(matches) == 1:
        return float(matches[0])
    total = sum(matches)
    # Leaving answer ``i`` out removes it from the matches iff it matched.
    accs = [min(1.0, float(total - m) / 3) for m in matches]
    return float(sum(accs)) / len(accs)

"""LLaVA-1.5 ("v1") conversation template, tokenized with answer-only labels."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

IGNORE_INDEX = -100
# Placeholder id for the image's place in ``input_ids`` (LLaVA uses -200 too);
# it is replaced by the projected visual tokens, never embedded.
IMAGE_PLACEHOLDER = -200
IMAGE_TOKEN = '<image>'
# A conversation whose first turn holds this key set reads the image's
# tokens detached: its answers train the language model only
# (ImageLevelConversations(detach_image=True)).
DETACH_IMAGE = 'detach_image'
LLAVA_V1_SYSTEM = (
    'A chat between a curious human and an artificial intelligence '
    'assistant. The assistant gives helpful, detailed, and polite answers '
    "to the human's questions.")

Conversation = Sequence[Dict[str, str]]


def split_turns(conversation: Conversation) -> List[Tuple[str, str]]:
    """Pair each human turn with the gpt turn that follows it.

    Raises:
        ValueError: if the roles do not alternate human, gpt, ...
    """
    turns = []
    for i in range(0, len(conversation), 2):
        human = conversation[i]
        gpt = conversation[i + 1] if i + 1 < len(conversation) else None
        if human.get('from') != 'human' or (gpt is not None
                                            and gpt.get('from') != 'gpt'):
            raise ValueError(
                f'conversation turns {i}/{i + 1} are not a human/gpt pair')
        turns.append((human['value'], gpt['value'] if gpt else None))
    return turns


def insert_context(prompt: str, context: str,
                   after_question: bool = False) -> str:
    """``prompt`` with ``context`` on its own line right after its
    ``<image>`` (``<image>\\n{context}\\n{question}``, as grounded prompts
    are written), or after the question (``after_question``:
    ``<image>\\n{question}\\n{context}``); unchanged without either."""
    if not context or IMAGE_TOKEN not in prompt:
        return prompt
    head, tail = prompt.split(IMAGE_TOKEN, 1)
    tail = tail.lstrip(chr(10))
    if after_question:
        return f'{head}{IMAGE_TOKEN}\n{tail}\n{context}'
    return f'{head}{IMAGE_TOKEN}\n{context}\n{tail}'


def with_context(conversation: Conversation, context: str,
                 after_question: bool = False) -> Conversation:
    """The conversation with ``context`` in its first turn (see
    :func:`insert_context`); its other keys (``detach_image``) kept."""
    if not context or not conversation:
        return conversation
    first = dict(conversation[0])
    first['value'] = insert_context(first['value'], context, after_question)
    return [first, *conversation[1:]]


class ConversationTokenizer:
    """Tokenize conversations in the LLaVA v1 template.

    ``[SYSTEM ]USER: {q} ASSISTANT: {a}</s>USER: ...``; labels are the
    answer tokens (and their ``</s>``) only, ``<image>`` becomes one
    :data:`IMAGE_PLACEHOLDER`.

    Args:
        tokenizer: a transformers tokenizer with ``bos``/``eos`` tokens.
        system_prompt (str): Prepended to every conversation ('' for none).
        max_length (int): Longest token sequence kept (image placeholder
            counted as one token); longer sequences are cut.
        text_transform (callable, optional): Applied to text before it is
            tokenized (the language branch's ``name_spacing``).
    """

    def __init__(self,
                 tokenizer,
                 system_prompt: str = LLAVA_V1_SYSTEM,
                 max_length: int = 2048,
                 text_transform: Optional[Callable[[str], str]] = None
                 ) -> None:
        self.tokenizer = tokenizer
        self.system_prompt = system_prompt
        self.max_length = max_length
        self.text_transform = text_transform
        # (vocabulary size, text) -> ids: the system prompt, the questions
        # and the short answers recur in every batch
        self._ids: Dict[Tuple[int, str], Tuple[int, ...]] = {}

    def _parts(self, text: str) -> List[str]:
        """The pieces tokenized apart: the text between ``<image>`` tokens
        (after ``text_transform``)."""
        if self.text_transform is not None:
            text = self.text_transform(text)
        return text.split(IMAGE_TOKEN)

    def _text(self, text: str) -> List[int]:
        ids: List[int] = []
        size = len(self.tokenizer)  # once: a fast tokenizer counts anew
        for i, part in enumerate(self._parts(text)):
            if i:
                ids.append(IMAGE_PLACEHOLDER)
            if part:
                ids += self._tokenize(part, size)
        return ids

    def _turn_texts(self, conversation: Conversation
                    ) -> List[Tuple[str, Optional[str]]]:
        """``(prompt text, answer text or None)`` per turn: what
        :meth:`encode_train` tokenizes and :meth:`prefetch` caches."""
        return [(f'{self._lead(k)}USER: {question} ASSISTANT:',
                 None if answer is None else ' ' + answer)
                for k, (question, answer) in enumerate(
                    split_turns(conversation))]

    def prefetch(self, conversations: Sequence[Conversation]) -> None:
        """Tokenize the pieces of ``conversations`` not yet cached in one
        batched call, so that :meth:`encode_train` then only reads the
        cache: a training step's ~100 conversations bring ~100 new pieces
        (their ``<DET>`` blocks), and one call per piece cost ~0.2 ms of
        Python each."""
        size = len(self.tokenizer)
        todo = sorted({
            part
            for conv in conversations
            for turn in self._turn_texts(conv)
            for text in turn if text is not None
            for part in self._parts(text)
            if part and (size, part) not in self._ids
        })
        if todo:
            encoded = self.tokenizer(todo, add_special_tokens=False).input_ids
            for part, ids in zip(todo, encoded):
                self._store((size, part), ids)

    def _tokenize(self, part: str, size: int) -> Tuple[int, ...]:
        key = (size, part)
        ids = self._ids.get(key)
        if ids is None:
            ids = self._store(key, self.tokenizer(
                part, add_special_tokens=False).input_ids)
        return ids

    def _store(self, key: Tuple[int, str],
               ids: Sequence[int]) -> Tuple[int, ...]:
        """Cache ``ids`` under ``key``; the cache is bounded (the blocks
        differ per image), cleared whole when full."""
        if len(self._ids) >= 8192:
            self._ids.clear()
        ids = self._ids[key] = tuple(ids)
        return ids

    def _lead(self, turn: int) -> str:
        """The system prompt and its space, before the first turn only.

        It is tokenized with that turn's text, not on its own: a
        SentencePiece tokenizer (LLaMA) would spell the trailing space as a
        lone "▁" and then give ``USER`` its dummy-prefix "▁" again.
        """
        return self.system_prompt + ' ' if self.system_prompt and \
            turn == 0 else ''

    def encode_train(self,
                     conversation: Conversation) -> Tuple[List[int], List[int]]:
        """Return ``(input_ids, labels)`` for teacher forcing."""
        ids = [self.tokenizer.bos_token_id]
        labels = [IGNORE_INDEX]
        for prompt_text, answer_text in self._turn_texts(conversation):
            prompt = self._text(prompt_text)
            ids += prompt
            labels += [IGNORE_INDEX] * len(prompt)
            if answer_text is not None:
                target = self._text(answer_text) + [
                    self.tokenizer.eos_token_id
                ]
                ids += target
                labels += target
        return ids[:self.max_length], labels[:self.max_length]

    def encode_prompt(self, question: str,
                      history: Optional[Conversation] = None) -> List[int]:
        """Return the ``input_ids`` that end right before the answer."""
        ids = [self.tokenizer.bos_token_id]
        turns = split_turns(history or [])
        for k, (q, a) in enumerate(turns):
            ids += self._text(f'{self._lead(k)}USER: {q} ASSISTANT: {a}')
            ids.append(self.tokenizer.eos_token_id)
        ids += self._text(
            f'{self._lead(len(turns))}USER: {question} ASSISTANT:')
        return ids[-self.max_length:]


def first_question(conversation: Conversation) -> tuple:
    """The first human question and the reference answer that follows it."""
    question, answer = split_turns(conversation)[0]
    return question, answer

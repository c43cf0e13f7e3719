"""The chat template, used from chapter 10 on: who speaks, and where a turn ends.

A conversation is a list of turns ``(role, text)``. Each turn is written as its role's token,
the text, and the end-of-turn token, as Zephyr's chat template writes it (OpenAI's ChatML
marks the same boundaries with two tokens and writes the role as text)::

    <|user|>Reverse the words.
    to be or not<|end|><|assistant|>not or be to<|end|>

The four chat tokens are new: they are appended after the vocabulary of chapter 6's byte-pair
tokenizer (ids 1024 to 1027), so every id the pretrained GPT knows keeps its meaning and its
embedding. A model learns to end its answer by writing ``<|end|>``, which is also where
generation stops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import regex

# --8<-- [start:chat_tokens]
ROLE_TOKENS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
END_OF_TURN = "<|end|>"
CHAT_TOKENS = (*ROLE_TOKENS.values(), END_OF_TURN)
Turn = tuple[str, str]  # (role, text)
# --8<-- [end:chat_tokens]


class ChatTokenizer:
    """A tokenizer (``encode``, ``decode``, ``vocab_size``) with the chat tokens appended:
    ``CHAT_TOKENS[i]`` gets id ``base.vocab_size + i``. Text between chat tokens is encoded
    by ``base`` exactly as before."""

    def __init__(self, base):
        self.base = base
        self.chat_ids = {token: base.vocab_size + i for i, token in enumerate(CHAT_TOKENS)}
        self.chat_tokens = {i: token for token, i in self.chat_ids.items()}
        self.end_id = self.chat_ids[END_OF_TURN]
        self.split = regex.compile("(" + "|".join(regex.escape(t) for t in CHAT_TOKENS) + ")")

    @property
    def vocab_size(self) -> int:
        return self.base.vocab_size + len(CHAT_TOKENS)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``, where a chat token written in the text becomes its one id."""
        ids: list[int] = []
        for piece in self.split.split(text):
            if piece in self.chat_ids:
                ids.append(self.chat_ids[piece])
            elif piece:
                ids += self.base.encode(piece)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``, chat tokens written out."""
        text, run = [], []
        for i in map(int, ids):
            if i in self.chat_tokens:
                text += [self.base.decode(run), self.chat_tokens[i]]
                run = []
            else:
                run.append(i)
        return "".join([*text, self.base.decode(run)])

    # --8<-- [start:encode_chat]
    def encode_chat(self, turns: Sequence[Turn]) -> tuple[list[int], list[bool]]:
        """(ids, trained): the conversation's ids, and for each id whether a model is trained
        to write it: the assistant's words and the end of its turn, not the role token (the
        prompt supplies it) and nothing anyone else says."""
        ids: list[int] = []
        trained: list[bool] = []
        for role, text in turns:
            check_role(role)
            ids.append(self.chat_ids[ROLE_TOKENS[role]])
            trained.append(False)
            body = [*self.encode(text), self.end_id]
            ids += body
            trained += [role == "assistant"] * len(body)
        return ids, trained

    def encode_prompt(self, turns: Sequence[Turn]) -> list[int]:
        """The conversation so far, then ``<|assistant|>``: what a model continues from."""
        ids, _ = self.encode_chat(turns)
        return [*ids, self.chat_ids[ROLE_TOKENS["assistant"]]]
    # --8<-- [end:encode_chat]


def check_role(role: str) -> None:
    if role not in ROLE_TOKENS:
        raise ValueError(f"role={role!r} is not one of {sorted(ROLE_TOKENS)}")

"""Talk to a tuned model (chapter 11): ``python -m llm_evolution.chat``.

A conversation is one growing sequence of tokens in the chat template: each user turn, then
``<|assistant|>`` and the model's answer up to its ``<|end|>``. The model reads the whole
conversation every turn, so :class:`Chat` keeps a KV cache across turns and feeds the model
only the tokens it has not read yet. Our models read 64 tokens; when the conversation no longer
fits, the oldest turns are dropped (a sliding window over turns, the way chat services forget
the start of a long conversation) and the cache starts again from what is left.

From a terminal, type a turn and press Enter; an empty line or Ctrl-D ends. With input from a
pipe or a file, each line is one user turn. The tasks the models learned put the input on a
line of its own: type ``\\n`` (a backslash and an n) where that line break goes::

    printf '%s\\n' 'Hello!' 'Give the last word.\\n to be or not' 'Thanks!' \\
        | python -m llm_evolution.chat --model ppo-chat
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator

import torch

from llm_evolution.data.chat import ChatTokenizer, Turn
from llm_evolution.models.gpt import GPT, KVCache

ANSWER_ROOM = 20  # tokens kept free for an answer: the longest right answer and its lead-in
MODELS = ("ppo-chat", "dpo-chat", "sft-chat", "ppo-no-kl", "instruct-gpt", "base")
DEFAULT_MODEL = "ppo-chat"


# --8<-- [start:chat]
class Chat:
    """A conversation with ``model``: :meth:`say` adds a user turn and returns the answer.

    The oldest turns are dropped until ``answer_room`` tokens of the context are free; the
    answer ends at ``<|end|>`` or where the context is full. Answers are greedy by default
    (the same conversation gives the same answers); with a ``generator``, each token is
    sampled at temperature 1.
    """

    def __init__(self, model: GPT, tokenizer: ChatTokenizer, *,
                 answer_room: int = ANSWER_ROOM, generator: torch.Generator | None = None):
        if not 1 <= answer_room < model.config.context_size - 2:
            raise ValueError(f"answer_room={answer_room} must leave room for a prompt in the "
                             f"model's {model.config.context_size} tokens")
        self.model, self.tokenizer, self.generator = model.eval(), tokenizer, generator
        self.prompt_room = model.config.context_size - answer_room
        self.turns: list[Turn] = []
        self.cache: KVCache | None = None
        self.cached_ids: list[int] = []  # the tokens whose keys and values the cache holds

    def prompt(self) -> list[int]:
        """The conversation's ids to continue from, without the oldest turns that leave too
        little room for an answer."""
        while True:
            ids = self.tokenizer.encode_prompt(self.turns)
            if len(ids) <= self.prompt_room:
                return ids
            if len(self.turns) == 1:
                raise ValueError(f"this turn is {len(ids)} tokens with its chat tokens; the "
                                 f"model reads {self.prompt_room} before it answers: say it in "
                                 "fewer words")
            self.turns.pop(0)  # the oldest turn goes first, and its answer with it
            while self.turns[0][0] != "user":
                self.turns.pop(0)

    @torch.no_grad()
    def say(self, text: str) -> str:
        """Add the user's turn ``text``; return the model's answer and add it as its turn."""
        self.turns.append(("user", text))
        try:
            ids = self.prompt()
        except ValueError:
            self.turns.pop()
            raise
        if self.cache is None or ids[: len(self.cached_ids)] != self.cached_ids:
            # Turns were dropped: positions moved, so the cached keys and values are stale.
            self.cache = KVCache(self.model.config.n_layers, self.model.config.context_size)
            self.cached_ids = []
        unread = ids[len(self.cached_ids):]
        answer: list[int] = []
        for _ in range(self.model.config.context_size - len(ids) + 1):
            logits = self.model.next_token_logits(torch.tensor([unread]), self.cache)
            self.cached_ids += unread
            scores = logits[0].double()  # decide in double precision, as generate() does
            if self.generator is None:
                next_id = int(scores.argmax())
            else:
                next_id = int(torch.multinomial(torch.softmax(scores, dim=-1), 1,
                                                generator=self.generator))
            if next_id == self.tokenizer.end_id:
                break
            answer.append(next_id)
            unread = [next_id]
        reply = self.tokenizer.decode(answer)
        self.turns.append(("assistant", reply))
        return reply
# --8<-- [end:chat]


def load_chat_model(name: str) -> tuple[GPT, ChatTokenizer]:
    """A chat model from the cache, by name (:data:`MODELS`), and its tokenizer. ``base`` is
    chapter 6's pretrained ``gpt-bpe`` with the chat tokens added, untuned."""
    from llm_evolution import zoo
    from llm_evolution.data.chat import CHAT_TOKENS
    from llm_evolution.instruction_tuning import chat_tokenizer, with_chat_tokens

    if name not in MODELS:
        raise ValueError(f"model={name!r} is not one of {', '.join(MODELS)}")
    if name == "base":
        model = with_chat_tokens(zoo.get("gpt-bpe").model, len(CHAT_TOKENS))
    else:
        model = zoo.get(name).model
    return model.eval(), chat_tokenizer()


def conversation(chat: Chat, turns: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(user turn, answer) for each of ``turns``; a turn too long to read gets the reason
    instead of an answer."""
    for text in turns:
        try:
            yield text, chat.say(text)
        except ValueError as error:
            yield text, f"({error})"


def read_turn(line: str) -> str:
    """A typed line as a user turn: ``\\n`` (backslash, n) becomes a line break."""
    return line.strip().replace("\\n", "\n")


def terminal_turns() -> Iterator[str]:
    while True:
        try:
            text = read_turn(input("you> "))
        except EOFError:
            return
        if not text:
            return
        yield text


def main(argv: list[str] | None = None) -> None:
    from llm_evolution import numerics

    if numerics.unsupported_reason() is None and not numerics.environment_is_pinned():
        # The answers the page prints come from the reference numeric path: start again on it
        # (its variables are read when torch loads, which this process has done).
        os.execve(sys.executable, [sys.executable, "-m", "llm_evolution.chat",
                                   *(sys.argv[1:] if argv is None else argv)],
                  numerics.reference_env())
    parser = argparse.ArgumentParser(
        prog="python -m llm_evolution.chat",
        description="Chat with one of the book's models (trained into the cache if missing). "
                    "Each line of input is one user turn.")
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=MODELS,
                        help=f"which model answers (default: {DEFAULT_MODEL})")
    parser.add_argument("--seed", type=int, default=None,
                        help="sample at temperature 1 with this seed (default: greedy)")
    args = parser.parse_args(argv)
    with numerics.reference_settings():
        model, tokenizer = load_chat_model(args.model)
        generator = None if args.seed is None else torch.Generator().manual_seed(args.seed)
        chat = Chat(model, tokenizer, generator=generator)
        interactive = sys.stdin.isatty()
        if interactive:
            print(f"{args.model}: our models know a few tasks on words, numbers and plays, "
                  "such as 'Give the last word.\\n to be or not' (\\n: the input's line "
                  "break). An empty line ends.")
        lines = terminal_turns() if interactive else (
            read_turn(line) for line in sys.stdin if line.strip())
        for text, reply in conversation(chat, lines):
            if not interactive:
                print("you> " + text.replace("\n", "\\n"))  # as it was typed
            print(f"{args.model}>{reply if reply.startswith(' ') else ' ' + reply}", flush=True)


if __name__ == "__main__":
    main()

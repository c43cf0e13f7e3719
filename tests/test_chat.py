"""The chat loop of chapter 11 (:mod:`llm_evolution.chat`): its answers are greedy decoding of
the whole conversation, with or without the KV cache kept across turns; the oldest turns go
when the context is full; and ``python -m llm_evolution.chat`` reads piped turns line by line.
Tiny random GPTs on a character tokenizer, except for the last test, which runs the command on
the trained model the page shows."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
import torch

from llm_evolution import chat as chat_module
from llm_evolution.chat import Chat, read_turn
from llm_evolution.data.chat import ChatTokenizer
from llm_evolution.data.conversations import GREETING_REPLY
from llm_evolution.generation import generate
from llm_evolution.models.gpt import GPT, GPTConfig
from tests.test_alignment import CharTokenizer, spread


def tiny_chat_model(tokenizer: ChatTokenizer, context_size: int = 64, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_size=context_size,
                          d_model=16, n_heads=2, n_layers=2))
    return spread(model, seed).eval()


def greedy_reply(model: GPT, tokenizer: ChatTokenizer, prompt: list[int]) -> str:
    """The reference: greedy decoding of the whole prompt without any cache, one token at a
    time until <|end|> or a full context, written out independently of Chat."""
    ids = list(prompt)
    answer = []
    while len(ids) < model.config.context_size + 1:
        new = generate(model, torch.tensor([ids]), 1, greedy=True, use_cache=False)[0, -1]
        if int(new) == tokenizer.end_id:
            break
        answer.append(int(new))
        ids.append(int(new))
    return tokenizer.decode(answer)


class EndsEverySeventh(GPT):
    """A GPT whose <|end|> wins at every seventh position, so that answers end after a few
    tokens (a random GPT never ends them) and turns fit in the context together. Both the
    cached and the uncached path add the same bias at the same position."""

    end_id = 0

    def next_token_logits(self, input_ids, cache=None):
        position = (0 if cache is None else len(cache)) + input_ids.size(1)  # tokens read
        logits = super().next_token_logits(input_ids, cache)
        if position % 7 == 0:
            logits[:, self.end_id] += 1e4
        return logits


def test_each_answer_is_greedy_decoding_of_the_conversation_so_far():
    """Across turns the cache is kept and only new tokens are read; the answers must still
    equal greedy decoding of the whole conversation from scratch, turn by turn."""
    tokenizer = ChatTokenizer(CharTokenizer())
    torch.manual_seed(0)
    model = spread(EndsEverySeventh(GPTConfig(vocab_size=tokenizer.vocab_size, context_size=96,
                                              d_model=16, n_heads=2, n_layers=2)), 0).eval()
    model.end_id = tokenizer.end_id
    chat = Chat(model, tokenizer, answer_room=12)
    turns, caches = [], []
    for text in ("hi", "ok", "x"):
        turns.append(("user", text))
        expected = greedy_reply(model, tokenizer, tokenizer.encode_prompt(turns))
        assert chat.say(text) == expected
        turns.append(("assistant", expected))
        caches.append(chat.cache)
    assert chat.turns == turns
    assert caches[0] is caches[1] is caches[2]  # one cache, never rebuilt: no turn was dropped


def test_the_oldest_turns_go_when_the_context_is_full():
    tokenizer = ChatTokenizer(CharTokenizer())
    model = tiny_chat_model(tokenizer, context_size=40)
    chat = Chat(model, tokenizer, answer_room=10)
    for text in ("first question", "second one", "third"):
        chat.say(text)
        assert chat.turns[0][0] == "user"  # never an answer without its question
        assert len(tokenizer.encode_prompt(chat.turns[:-1])) <= 40 - 10
    assert ("user", "first question") not in chat.turns
    assert chat.turns[-2] == ("user", "third")


def test_a_turn_too_long_to_read_is_refused_and_not_kept():
    tokenizer = ChatTokenizer(CharTokenizer())
    chat = Chat(tiny_chat_model(tokenizer, context_size=32), tokenizer, answer_room=10)
    with pytest.raises(ValueError, match="fewer words"):
        chat.say("a" * 40)
    assert chat.turns == []


def test_bad_answer_room_is_refused():
    tokenizer = ChatTokenizer(CharTokenizer())
    with pytest.raises(ValueError, match="answer_room=64"):
        Chat(tiny_chat_model(tokenizer), tokenizer, answer_room=64)


def test_sampling_with_a_seed_repeats():
    tokenizer = ChatTokenizer(CharTokenizer())
    model = tiny_chat_model(tokenizer)
    answers = [Chat(model, tokenizer, generator=torch.Generator().manual_seed(3)).say("hi")
               for _ in range(2)]
    assert answers[0] == answers[1]


def test_read_turn_turns_a_typed_backslash_n_into_a_line_break():
    assert read_turn("Give the last word.\\n to be or not\n") == "Give the last word.\n to be or not"


def test_piped_input_is_read_line_by_line(monkeypatch, capsys):
    """main() with stdin from a pipe: one answer per non-empty line, each line echoed."""
    tokenizer = ChatTokenizer(CharTokenizer())
    model = tiny_chat_model(tokenizer)
    monkeypatch.setattr(chat_module, "load_chat_model", lambda name: (model, tokenizer))
    monkeypatch.setattr(sys, "stdin", io.StringIO("hi\n\nsay\\n two\n"))
    chat_module.main(["--model", "sft-chat"])
    lines = capsys.readouterr().out.splitlines()
    expected = Chat(model, tokenizer)
    assert lines[0] == "you> hi"
    assert lines[1] == "sft-chat>" + (lambda r: r if r.startswith(" ") else " " + r)(
        expected.say("hi"))
    assert lines[2] == "you> say\\n two"
    assert len(lines) == 4


def test_the_command_runs_on_the_trained_model_with_piped_input():
    """What the README documents, end to end: a fresh process (which restarts itself on the
    reference numeric path), the cached PPO model, three piped turns."""
    result = subprocess.run(
        [sys.executable, "-m", "llm_evolution.chat"],
        input="Hello!\nGive the last word.\\n to be or not\nThanks!\n",
        capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR",
                                                              "ONEDNN_MAX_CPU_ISA")})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("you> ")] == [
        "you> Hello!", "you> Give the last word.\\n to be or not", "you> Thanks!"]
    answers = [line for line in lines if line.startswith("ppo-chat> ")]
    assert len(answers) == 3
    assert answers[0] == f"ppo-chat>{GREETING_REPLY}"  # what every SFT conversation taught

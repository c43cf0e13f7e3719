"""Chapter 10's tasks as text and the chat template: what each task answers, what training
never sees, and how a conversation becomes ids and a loss mask."""

from __future__ import annotations

import random

import pytest

from llm_evolution.data import instructions as ins
from llm_evolution.data.chat import CHAT_TOKENS, ChatTokenizer
from llm_evolution.data.text import bpe_corpus
from llm_evolution.instruction_tuning import chat_tokenizer, encode_examples

LINE = "to be or not"


@pytest.mark.parametrize(("task", "response"), [
    ("first_word", "to"), ("last_word", "not"), ("reverse_words", "not or be to"),
    ("count_words", "4"), ("repeat", LINE),
    ("commas", "to, be, or, not"), ("quote", '"to be or not"'),
])
def test_each_word_task_answers_as_written(task, response):
    assert ins.TASK_BY_NAME[task].solve(LINE, {}) == response


def test_number_tasks_go_both_ways():
    assert ins.TASK_BY_NAME["to_digits"].solve("forty two", {}) == "42"
    assert ins.TASK_BY_NAME["to_words"].solve("42", {}) == "forty two"


def test_play_tasks_answer_from_the_source():
    source = {"play": "Hamlet", "genre": "tragedy"}
    assert ins.TASK_BY_NAME["which_play"].solve(LINE, source) == "Hamlet"
    assert ins.TASK_BY_NAME["genre"].solve(LINE, source) == "tragedy"


def test_a_composition_applies_both_steps():
    example = ins.make_composition("reverse_words", "first_word", "test", random.Random(0),
                                   "new_composition")
    assert example.response == example.input.split()[-1]
    assert example.instruction.count(".") == 2 and " Then " in example.instruction


def test_training_never_sees_held_out_phrasings_compositions_or_clusters():
    clusters = ("words", "numbers", "plays")
    examples = ins.training_examples(clusters, 3000, seed=0)
    held_out_phrasings = {task.phrasings[-1] for task in ins.TASKS}
    composed = {f"{a}+{b}" for a, b in ins.COMPOSITIONS["held_out"]}
    assert not any(e.instruction in held_out_phrasings for e in examples)
    assert not any(e.task in composed for e in examples)
    assert {e.cluster for e in examples} == set(clusters)
    assert {e.task for e in examples} >= {t.name for t in ins.TASKS if t.cluster in clusters}


def test_evaluation_inputs_come_from_held_out_text():
    lines = {split: [line for line, _, _ in ins.play_lines()[split]] for split in ("train", "test")}
    examples = ins.evaluation_examples(("words",), per_task=4)
    words_inputs = [e.input for e in examples if ins.TASK_BY_NAME.get(e.task)
                    and ins.TASK_BY_NAME[e.task].reads == "words"]
    assert words_inputs
    assert all(any(text in line for line in lines["test"]) for text in words_inputs)
    kinds = {e.kind for e in examples}
    assert kinds == {"seen", "new_phrasing", "new_composition", "new_cluster"}


def test_examples_are_the_same_for_the_same_seed():
    assert ins.training_examples(("numbers",), 50, seed=3) == \
        ins.training_examples(("numbers",), 50, seed=3)
    assert ins.training_examples(("numbers",), 50, seed=3) != \
        ins.training_examples(("numbers",), 50, seed=4)


def test_unknown_cluster_is_named():
    with pytest.raises(ValueError, match="cluster='poems'"):
        ins.training_examples(("poems",), 10)


# ---------------------------------------------------------------- the chat template

def test_chat_tokens_come_after_the_pretrained_vocabulary():
    base = bpe_corpus().tokenizer
    tokenizer = ChatTokenizer(base)
    assert tokenizer.vocab_size == base.vocab_size + len(CHAT_TOKENS)
    assert [tokenizer.encode(token) for token in CHAT_TOKENS] == \
        [[base.vocab_size + i] for i in range(len(CHAT_TOKENS))]
    assert tokenizer.encode("to be or not") == base.encode("to be or not")


def test_a_conversation_round_trips_and_trains_on_the_assistant_only():
    tokenizer = chat_tokenizer()
    turns = [("user", "Reverse the words.\nto be"), ("assistant", "be to")]
    ids, trained = tokenizer.encode_chat(turns)
    assert tokenizer.decode(ids) == "<|user|>Reverse the words.\nto be<|end|><|assistant|>be to<|end|>"
    assistant_start = ids.index(tokenizer.chat_ids["<|assistant|>"])
    assert not any(trained[: assistant_start + 1])
    assert all(trained[assistant_start + 1 :])
    assert tokenizer.decode([i for i, t in zip(ids, trained) if t]) == "be to<|end|>"
    prompt = tokenizer.encode_prompt(turns[:1])
    assert prompt == ids[: assistant_start + 1]


def test_unknown_role_is_named():
    with pytest.raises(ValueError, match="role='narrator'"):
        chat_tokenizer().encode_chat([("narrator", "Once")])


def test_every_example_fits_the_context():
    examples = ins.evaluation_examples(("words", "numbers", "plays"), per_task=8)
    inputs, targets, trained = encode_examples(examples, chat_tokenizer(), 64)
    assert inputs.shape == targets.shape == trained.shape and inputs.size(1) <= 64
    # every response (and its end token) is trained; nothing else is
    tokenizer = chat_tokenizer()
    for row, example in zip(range(3), examples):
        answer = [int(t) for t, keep in zip(targets[row], trained[row]) if keep]
        assert tokenizer.decode(answer) == example.reply() + "<|end|>"

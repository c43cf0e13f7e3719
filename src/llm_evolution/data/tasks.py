"""A family of hidden rules for chapter 7's in-context learning: bit-wise substitutions.

A task maps a string of ``N_BITS`` bits to another. Its hidden rule picks, for every bit
position on its own, one of four operations: keep the bit, flip it, or write 0 or 1 whatever
it was. There are 4**4 = 256 rules. One example ``x > y`` shows what the rule does to each bit
*for the value that bit had in x*, so it pins down a position only for queries that share
that bit; zero examples show nothing. The more examples a prompt has, the more positions are
pinned down, which is what makes accuracy rise with the number of examples.

A sequence is several examples of ONE rule. Each character is one token (three of them: ``0``,
``1`` and ``;``), and an example is written bit by bit, each input bit followed by what the
rule makes of it: "0110 > 0111" becomes ``00 11 11 01;`` (nine tokens). Nothing in a sequence
says which rule it is. A fixed, seeded quarter of the rules is held out: no training sequence
ever uses them.

Everything is a pure function of its seed or ``torch.Generator`` (never the global one).
"""

from __future__ import annotations

import hashlib
import itertools
import random

import torch

# --8<-- [start:rules]
N_BITS = 4
OPS = ("keep", "flip", "zero", "one")  # what a rule does to one bit position
VOCAB = ("0", "1", ";")  # one token per bit, and the end of an example
EXAMPLE_LENGTH = 2 * N_BITS + 1  # "00 11 11 01;": input bit, output bit, ..., then ";"

Rule = tuple[str, ...]  # one op per bit position, e.g. ("keep", "flip", "one", "keep")


def apply_rule(rule: Rule, bits: str) -> str:
    """The rule's output for the input ``bits``, e.g. ("keep", "flip", "one", "zero") turns
    "0110" into "0010"."""
    check_rule(rule)
    if len(bits) != N_BITS or set(bits) - {"0", "1"}:
        raise ValueError(f"bits={bits!r} must be {N_BITS} characters, each '0' or '1'")
    out = {"keep": lambda b: b, "flip": lambda b: "1" if b == "0" else "0",
           "zero": lambda b: "0", "one": lambda b: "1"}
    return "".join(out[op](bit) for op, bit in zip(rule, bits))


def all_rules() -> list[Rule]:
    """Every rule of the family: 4 ops at each of the 4 positions, 256 in all."""
    return list(itertools.product(OPS, repeat=N_BITS))


def split_rules(n_held_out: int = 64, seed: int = 0) -> tuple[list[Rule], list[Rule]]:
    """(training rules, held-out rules): ``n_held_out`` rules drawn with ``seed`` are never
    used for training, so that a test on them measures inference, not memory."""
    rules = all_rules()
    if not 1 <= n_held_out < len(rules):
        raise ValueError(f"n_held_out={n_held_out} must be in 1..{len(rules) - 1}")
    held_out = set(random.Random(seed).sample(rules, n_held_out))
    return [r for r in rules if r not in held_out], [r for r in rules if r in held_out]
# --8<-- [end:rules]


def check_rule(rule: Rule) -> None:
    """Raise ValueError unless ``rule`` is ``N_BITS`` operations from ``OPS``."""
    if len(rule) != N_BITS or any(op not in OPS for op in rule):
        raise ValueError(f"rule={rule!r} must be {N_BITS} operations, each one of {OPS}")


def encode(text: str) -> list[int]:
    """Token ids of a text such as "00 11 11 01; 1" (one id per character; spaces ignored)."""
    chars = [c for c in text if not c.isspace()]
    unknown = sorted(set(chars) - set(VOCAB))
    if unknown:
        raise ValueError(f"text contains {unknown}: every character must be one of {VOCAB}")
    return [VOCAB.index(c) for c in chars]


def decode(ids) -> str:
    """The text of token ids from the start of an example, with a space between the
    (input bit, output bit) pairs and after each ";", e.g. "00 11 11 01; 1"."""
    out, bits = [], 0
    for i in ids:
        token = VOCAB[int(i)]
        if token == ";":
            out.append("; ")
            bits = 0
        else:
            out.append((" " if bits and bits % 2 == 0 else "") + token)
            bits += 1
    return "".join(out).rstrip()


# --8<-- [start:sequences]
def rule_codes(rules: list[Rule]) -> torch.Tensor:
    """(n_rules, N_BITS) tensor of op indices into ``OPS``."""
    for rule in rules:
        check_rule(rule)
    return torch.tensor([[OPS.index(op) for op in rule] for rule in rules], dtype=torch.long)


def apply_codes(codes: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply rules given as op indices (..., N_BITS) to bits x (..., N_BITS), all at once."""
    # Per op, the output bit for an input bit: keep = x, flip = 1 - x, zero = 0, one = 1.
    return torch.stack([x, 1 - x, torch.zeros_like(x), torch.ones_like(x)])\
        .gather(0, codes.unsqueeze(0).expand(1, *x.shape)).squeeze(0)


def draw_sequences(codes: torch.Tensor, n_examples: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (batch, n_examples * EXAMPLE_LENGTH) of ``n_examples`` examples per rule of
    ``codes`` (batch, N_BITS), with random inputs, and a mask that is True at the output bits."""
    if n_examples < 1:
        raise ValueError(f"n_examples={n_examples} must be >= 1")
    batch = codes.size(0)
    x = torch.randint(2, (batch, n_examples, N_BITS), generator=generator)
    y = apply_codes(codes[:, None, :].expand_as(x), x)
    # Bits are their own token ids ("0" is 0, "1" is 1): x0 y0 x1 y1 ... then ";".
    pairs = torch.stack([x, y], dim=3).reshape(batch, n_examples, 2 * N_BITS)
    end = torch.full((batch, n_examples, 1), VOCAB.index(";"))
    ids = torch.cat([pairs, end], dim=2).reshape(batch, -1)
    is_output = torch.tensor([False, True] * N_BITS + [False])
    return ids, is_output.repeat(n_examples).expand(batch, -1)


def task_batches(rules: list[Rule], n_examples: int, batch_size: int):
    """Training batches ``get_batch(generator) -> (inputs, targets, answer_mask)``: each row
    is ``n_examples`` examples of one random rule from ``rules``, shifted for next-token
    prediction; the mask marks targets that are outputs (inputs are random: unpredictable)."""
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    codes = rule_codes(rules)

    def get_batch(generator: torch.Generator):
        which = torch.randint(len(rules), (batch_size,), generator=generator)
        ids, is_answer = draw_sequences(codes[which], n_examples, generator)
        return ids[:, :-1], ids[:, 1:], is_answer[:, 1:]

    return get_batch
# --8<-- [end:sequences]


def fingerprint(rules: list[Rule], n_examples: int) -> str:
    """Hash of the rules and of a sample batch: changes when the data a model sees changes."""
    inputs, targets, mask = task_batches(rules, n_examples, 4)(torch.Generator().manual_seed(0))
    digest = hashlib.sha256(repr((rules, VOCAB)).encode())
    for tensor in (inputs, targets, mask):
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:16]

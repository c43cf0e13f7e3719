"""Generating text from a language model, one sampled token at a time.

Chapter 1 samples from the full distribution (:func:`sample`, any model); chapter 6 adds
:func:`generate` for a GPT: greedy decoding, temperature, top-k, top-p and a key-value cache,
and measures two of them: how temperature reshapes one distribution
(:func:`temperature_probabilities`) and how much time the cache saves (:func:`kv_cache_seconds`).
The page and its figures call the same functions, so they show the same computation.
"""

from __future__ import annotations

import torch
from torch import nn

from llm_evolution.evaluation import evaluating
from llm_evolution.measurements import measured
from llm_evolution.models.bigram import check_token_ids
from llm_evolution.models.gpt import GPT, GPTConfig, KVCache

TEMPERATURE_PROMPT = "ROMEO.\nI will t"  # a prompt after which the next letter is uncertain
TEMPERATURES = (0.5, 1.0, 2.0)
KV_NEW_TOKENS = (64, 256, 512)  # generation lengths timed with and without the cache
KV_PROMPT_LENGTH = 16


# --8<-- [start:sample]
def sample(
    model: nn.Module,
    prompt_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    generator: torch.Generator,
    context_size: int | None = None,
) -> torch.Tensor:
    """Extend ``prompt_ids`` (shape (batch, time)) by ``max_new_tokens`` sampled tokens.

    At each step the model scores every possible next token; softmax turns the scores of the
    last position into probabilities and one token is drawn from them. ``context_size`` crops
    the input to the last tokens a model with a fixed window can read.
    """
    if prompt_ids.dim() != 2 or prompt_ids.size(1) == 0:
        raise ValueError(
            f"prompt_ids must have shape (batch, time) with time >= 1, got {tuple(prompt_ids.shape)}"
        )
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 0")
    if context_size is not None and context_size < 1:
        raise ValueError(f"context_size={context_size} must be None or >= 1")
    ids = prompt_ids
    with evaluating(model):
        for _ in range(max_new_tokens):
            context = ids if context_size is None else ids[:, -context_size:]
            logits, _ = model(context)
            # Draw on the CPU in double precision: the same seed gives the same text anywhere.
            probs = torch.softmax(logits[:, -1, :].double().cpu(), dim=-1)
            next_id = torch.multinomial(probs, num_samples=1, generator=generator).to(ids.device)
            ids = torch.cat([ids, next_id], dim=1)
    return ids
# --8<-- [end:sample]


# --8<-- [start:temperature]
def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the scores by ``temperature``: below 1 the softmax gets sharper (the likely
    tokens get likelier), above 1 flatter. As it nears 0 sampling becomes the argmax."""
    if temperature <= 0:
        raise ValueError(f"temperature={temperature} must be > 0; use greedy=True for argmax "
                         "decoding")
    return logits / temperature
# --8<-- [end:temperature]


# --8<-- [start:top_k]
def top_k_filter(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep the ``top_k`` highest scores of each row and set the rest to -inf (probability 0
    after softmax). Scores tied with the k-th are kept too."""
    if top_k < 1:
        raise ValueError(f"top_k={top_k} must be >= 1 (or None to keep every token)")
    top_k = min(top_k, logits.size(-1))
    kth_best = torch.topk(logits, top_k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_best, float("-inf"))
# --8<-- [end:top_k]


# --8<-- [start:top_p]
def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probabilities add
    up to at least ``top_p`` (always at least the top token); the rest get -inf.

    Unlike top-k, the number kept adapts: a few tokens when the model is sure, many when it
    hesitates.
    """
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p={top_p} must be in (0, 1] (or None to keep every token)")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = probs.cumsum(dim=-1) - probs  # probability of the better tokens before each one
    remove_sorted = before >= top_p  # the set had already reached top_p without this token
    remove = remove_sorted.scatter(-1, order, remove_sorted)  # back to vocabulary order
    return logits.masked_fill(remove, float("-inf"))
# --8<-- [end:top_p]


# --8<-- [start:generate]
def generate(
    model: GPT,
    prompt_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Extend ``prompt_ids`` (batch, time) by ``max_new_tokens`` tokens from a :class:`GPT`.

    ``greedy=True`` takes the most likely token each step (temperature, top-k and top-p are
    then ignored); otherwise the scores are divided by ``temperature``, filtered by
    ``top_k`` and ``top_p``, and one token is drawn with ``generator``. With ``use_cache``
    the model reads each token once and keeps its keys and values in a :class:`KVCache`;
    without, it re-reads the whole sequence at every step. Both give the same tokens.

    The text may grow past the model's context: then the model reads only the last
    ``context_size`` tokens (a sliding window, as nanoGPT's ``generate`` does). Positions are
    counted from the window's start, so every step past the context re-reads the whole window
    and the cache saves nothing more.
    """
    if not isinstance(model, GPT):
        raise ValueError(f"model must be a GPT, got {type(model).__name__}; use sample() for "
                         "other models")
    if prompt_ids.dim() != 2 or prompt_ids.size(1) == 0:
        raise ValueError(f"prompt_ids must have shape (batch, time) with time >= 1, got "
                         f"{tuple(prompt_ids.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 0")
    context_size = model.config.context_size
    if not greedy:  # check the sampling settings before any work
        apply_temperature(torch.zeros(1), temperature)
        if top_k is not None:
            top_k_filter(torch.zeros(1), top_k)
        if top_p is not None:
            top_p_filter(torch.zeros(1), top_p)
        if generator is None:
            raise ValueError("sampling needs a generator (torch.Generator().manual_seed(...)) "
                             "so that the same seed gives the same text; or use greedy=True")
    # The prompt's ids are checked once, here; every later id is the model's own choice.
    check_token_ids(prompt_ids, model.config.vocab_size, "prompt_ids")
    cache = KVCache(model.config.n_layers, context_size) if use_cache else None
    ids, unread = prompt_ids, prompt_ids  # unread: the tokens the cache has not seen yet
    with evaluating(model):
        for _ in range(max_new_tokens):
            if ids.size(1) > context_size:  # past the context: the window slides
                logits = model.next_token_logits(ids[:, -context_size:])
            elif use_cache:
                logits = model.next_token_logits(unread, cache)
            else:
                logits = model.next_token_logits(ids)
            # Decide on the CPU in double precision: the same seed gives the same text anywhere.
            scores = logits.double().cpu()
            if greedy:
                next_id = scores.argmax(dim=-1, keepdim=True)
            else:
                scores = apply_temperature(scores, temperature)
                if top_k is not None:
                    scores = top_k_filter(scores, top_k)
                if top_p is not None:
                    scores = top_p_filter(scores, top_p)
                probs = torch.softmax(scores, dim=-1)
                next_id = torch.multinomial(probs, num_samples=1, generator=generator)
            unread = next_id.to(ids.device)
            ids = torch.cat([ids, unread], dim=1)
    return ids
# --8<-- [end:generate]


# --8<-- [start:temperature_probabilities]
def temperature_probabilities(model: GPT, prompt_ids: torch.Tensor,
                              temperatures=TEMPERATURES) -> dict[float, torch.Tensor]:
    """The model's distribution over the token after ``prompt_ids`` (1, time), reshaped by
    each temperature exactly as :func:`generate` does."""
    with evaluating(model):
        logits, _ = model(prompt_ids)
    scores = logits[0, -1].double()
    return {t: torch.softmax(apply_temperature(scores, t), dim=-1) for t in temperatures}
# --8<-- [end:temperature_probabilities]


# --8<-- [start:kv_cache_seconds]
@measured  # once per machine: the page, notebook and figure show the same timing
def kv_cache_seconds(new_tokens=KV_NEW_TOKENS, prompt_length: int = KV_PROMPT_LENGTH,
                     repeats: int = 1) -> dict[int, tuple[float, float]]:
    """Seconds to generate each number of ``new_tokens`` greedily after a prompt, without and
    with the KV cache, for an untrained GPT of the trained char model's shape whose context
    fits the longest run (the weights do not change the amount of work), on every core."""
    from llm_evolution import zoo
    from llm_evolution.data.text import char_corpus
    from llm_evolution.timing import median_seconds, torch_threads

    shape = zoo.find("gpt-char").config
    vocab_size = char_corpus().tokenizer.vocab_size
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab_size, context_size=prompt_length + max(new_tokens),
                          d_model=shape["d_model"], n_heads=shape["n_heads"],
                          n_layers=shape["n_layers"])).eval()
    prompt = torch.randint(0, vocab_size, (1, prompt_length), generator=torch.Generator().manual_seed(0))
    seconds = {}
    with torch_threads():  # a timing uses the whole machine; trained models stay on one thread
        generate(model, prompt, 8, greedy=True)  # warm up once
        for n in new_tokens:
            seconds[n] = tuple(
                median_seconds(lambda: generate(model, prompt, n, greedy=True, use_cache=cache),
                               repeats=repeats, warmup=0)
                for cache in (False, True))
    return seconds
# --8<-- [end:kv_cache_seconds]

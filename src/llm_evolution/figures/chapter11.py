"""Figures of chapter 11 (alignment: InstructGPT to ChatGPT). Its concept diagram: the three
steps of InstructGPT (Ouyang et al., 2022) on our models, supervised fine-tuning of chapter
10's ``instruct-gpt`` on conversations in the chat template, a reward model trained on a
rater's preferences between two answers, and PPO against that reward with a KL penalty to the
SFT model, and DPO's shortcut (Rafailov et al., 2023) from the same preference pairs straight
to the policy.

The diagram takes its words from the data (the task of :mod:`llm_evolution.data.instructions`,
the chat tokens of :mod:`llm_evolution.data.chat`); it draws no model and imports none."""

from __future__ import annotations

import matplotlib.pyplot as plt

from llm_evolution.data.chat import END_OF_TURN, ROLE_TOKENS
from llm_evolution.data.conversations import STYLES
from llm_evolution.data.instructions import TASK_BY_NAME, Example
from llm_evolution.figures import diagram, figure

# ================================================================ concept diagram

FONT = 9  # every label of the diagrams (as chapter 10's)
SMALL = FONT - 1  # text inside boxes
_MONO_CHAR = 0.108  # width of one DejaVu Sans Mono character at SMALL points, in box units
_LINE = 0.215  # height of one line of text at SMALL points, in box units

INPUT = "to be or not"  # the input of the conversation the diagram follows
_TASK = TASK_BY_NAME["reverse_words"]
EXAMPLE = Example(_TASK.cluster, _TASK.name, _TASK.phrasings[0], INPUT,
                  _TASK.solve(INPUT, {}))
PROMPT = EXAMPLE.prompt()  # "Reverse the words.\n to be or not"
CHOSEN = EXAMPLE.reply()  # " not or be to": right, short, and the turn ends
# The answer the rater turns down: it talks before answering, and the words are not reversed.
REJECTED = STYLES["answer is"].format(answer=f" {INPUT}")
USER, ASSISTANT = ROLE_TOKENS["user"], ROLE_TOKENS["assistant"]


def _box_width(text: str) -> float:
    return max(map(len, text.split("\n"))) * _MONO_CHAR + 0.22


def _box_height(text: str) -> float:
    return (text.count("\n") + 1) * _LINE + 0.2


def _box(ax, left: float, y: float, text: str, role: str | None = None) -> float:
    """A token box sized to ``text`` at the small size, its left edge at ``left`` and its
    centre at height ``y``; returns its right edge."""
    from llm_evolution.figures import diagrams as d

    width = _box_width(text)
    d.token_box(ax, left + width / 2, y, text, role, width=width, height=_box_height(text),
                fontsize=SMALL)
    return left + width


def _pair(ax, left: float, top: float) -> list[tuple[float, float]]:
    """The preference pair, A (chosen, in the response colour, ticked) above B (rejected,
    crossed), with their letters at ``left``; returns where an arrow out of each starts."""
    ends = []
    for letter, text, role, mark, y in (("A", CHOSEN, "output", "✓", top - 0.25),
                                        ("B", REJECTED, None, "✗", top - 0.8)):
        ax.text(left, y, letter, ha="left", va="center", fontsize=FONT, fontweight="bold")
        right = _box(ax, left + 0.25, y, text, role)
        ax.text(right + 0.08, y, mark, ha="left", va="center", fontsize=FONT + 3)
        ends.append((right + 0.4, y))
    return ends


def _step(ax, left: float, top: float, width: float, height: float, badge, label: str):
    """A step's dashed frame (top edge at ``top``) and above it its badge, a numbered circle
    for a step of InstructGPT or a tag in the query colour for DPO, and its label."""
    from llm_evolution.figures import diagrams as d

    d.frame(ax, left, top - height, width, height)
    y = top + 0.27
    if isinstance(badge, int):
        d.step_badge(ax, left + 0.3, y, badge)
        at = left + 0.62
    else:
        d.token_box(ax, left + 0.45, y, badge, "query", width=0.7, height=0.4, fontsize=FONT,
                    mono=False)
        at = left + 0.92
    ax.text(at, y, label, ha="left", va="center", fontsize=FONT, style="italic")


@diagram(
    "alignment",
    alt="Alignment as InstructGPT did it, in three numbered steps drawn as dashed frames one "
    "below the other, and DPO's shortcut in a fourth frame at the bottom, tagged DPO. A key "
    "at the top: a tinted block is trained in its step, a snowflake marks a frozen model. "
    "Step 1, supervised fine-tuning (SFT): chapter 10's instruct-gpt is fine-tuned on "
    "conversations in the chat template, drawn as tokens on two rows: "
    f"{USER}, the instruction \"{EXAMPLE.instruction}\" with the input \"{INPUT}\" on the "
    f"next line, {END_OF_TURN}; then "
    f"{ASSISTANT}, the answer \"{CHOSEN}\" and {END_OF_TURN}, only these last two coloured: "
    "the loss is on the assistant's tokens only. An arrow leads to the SFT model, the start "
    "of steps 2 and 3. Step 2, preferences and a reward model: the SFT model writes two "
    f"answers to the same prompt, A, \"{CHOSEN}\", ticked, and B, \"{REJECTED}\", crossed; a "
    "rater, a program standing in for human labelers that prefers the correct, concise "
    "answer that ends cleanly, says A > B. The pair trains a reward model, the SFT network "
    "with a scalar head, so that r(A) > r(B), with the Bradley-Terry loss "
    "−log σ(r(A) − r(B)). Step 3, PPO, drawn as a loop: the policy, a copy of the SFT model "
    f"and the block trained here, answers the prompt, \"{CHOSEN}\"; the frozen reward model "
    "scores the answer, r; the reward is r − β·KL(policy ‖ SFT), the KL term computed "
    "against the frozen SFT model; PPO updates the policy with it, and the loop starts "
    "again. DPO: from the "
    "same pairs of step 2 straight to the policy, a copy of the SFT model, with no reward "
    "model and no sampling: one loss on the pairs, −log σ(β·(log-ratio(A) − log-ratio(B))), "
    "where log-ratio(y) = log policy(y) − log SFT(y).",
)
def alignment() -> plt.Figure:
    from llm_evolution.figures import diagrams as d

    width = 11.9
    gap = 0.62  # from one frame to the next: room for the next one's badge and label
    heights = {1: 2.15, 2: 2.75, 3: 2.45, "DPO": 2.45}
    key_h = 0.45
    height = key_h + sum(heights.values()) + gap * len(heights) + 0.1
    fig, ax = d.canvas(width, height)
    left, inner = 0.1, width - 0.2
    tops = {}
    top = height - key_h - gap + 0.1
    for step, h in heights.items():
        tops[step] = top
        top -= h + gap

    # The key: what a tint and a snowflake mean on every step.
    key_y = height - 0.25
    d.layer_block(ax, inner - 3.95, key_y, 0.45, 0.3, "", "highlight")
    ax.text(inner - 3.65, key_y, "trained in this step", ha="left", va="center",
            fontsize=FONT)
    ax.text(inner - 1.2, key_y, "❄  frozen", ha="left", va="center", fontsize=FONT)

    # 1. SFT: instruct-gpt fine-tuned on conversations, the loss on the assistant's tokens.
    top = tops[1]
    _step(ax, left, top, inner, heights[1], 1, "supervised fine-tuning (SFT)")
    mid = top - 1.0
    d.layer_block(ax, 1.2, mid, 1.8, 0.9, "instruct-gpt\n(chapter 10)", fontsize=FONT)
    start = 2.65
    d.arrow(ax, (2.15, mid), (start - 0.08, mid))
    ax.text(start, top - 0.12, "conversations in the chat template", ha="left", va="top",
            fontsize=FONT, style="italic")
    rows = [(mid + 0.22, [(USER, None), (PROMPT, None), (END_OF_TURN, None)]),
            (mid - 0.45, [(ASSISTANT, None), (CHOSEN, "output"), (END_OF_TURN, "output")])]
    right = start
    for y, tokens in rows:
        at = start
        for text, role in tokens:
            at = _box(ax, at, y, text, role) + 0.08
        right = max(right, at)
    key_y = mid - 0.95
    d.token_box(ax, start + 0.2, key_y, "", "output", width=0.4, height=0.26)
    ax.text(start + 0.52, key_y, "loss on the assistant's tokens only", ha="left",
            va="center", fontsize=FONT)
    sft_x = right + 1.35
    d.arrow(ax, (right + 0.05, mid), (sft_x - 0.8, mid))
    d.layer_block(ax, sft_x, mid, 1.5, 0.7, "SFT model", "highlight", fontsize=FONT)
    ax.text(sft_x + 0.9, mid, "the start of\nsteps 2 and 3", ha="left", va="center",
            fontsize=FONT, style="italic", linespacing=1.3)

    # 2. Two answers, a rater's preference, and a reward model trained on it.
    top = tops[2]
    _step(ax, left, top, inner, heights[2], 2, "preferences and a reward model")
    line = top - 0.85
    ax.text(0.3 + _box_width(PROMPT) / 2, line + 0.5, "one prompt", ha="center", va="center",
            fontsize=FONT, style="italic")
    prompt_right = _box(ax, 0.3, line, PROMPT)
    sft_x = prompt_right + 1.05
    d.arrow(ax, (prompt_right + 0.06, line), (sft_x - 0.55, line))
    d.layer_block(ax, sft_x, line, 1.1, 0.7, "SFT\nmodel", fontsize=FONT)
    pair_left = sft_x + 1.05
    ends = _pair(ax, pair_left, line + 0.55)
    (_, ya), (pair_right, yb) = ends
    for y in (ya, yb):
        d.arrow(ax, (sft_x + 0.57, line + (y - line) * 0.4), (pair_left - 0.08, y))
    ax.text((sft_x + pair_left) / 2 + 0.05, line - 0.62, "two answers", ha="center",
            va="center", fontsize=FONT, style="italic")
    rater_x = pair_right + 1.05
    for x, y in ends:
        d.arrow(ax, (x, y), (rater_x - 0.72, line + (y - line) * 0.4))
    d.layer_block(ax, rater_x, line, 1.4, 0.7, "rater\n(a program)", fontsize=FONT)
    verdict_x = rater_x + 1.35
    d.arrow(ax, (rater_x + 0.72, line), (verdict_x - 0.4, line))
    d.token_box(ax, verdict_x, line, "A > B", "output", width=0.75, height=0.42,
                fontsize=SMALL)
    reward_y = tops[2] - heights[2] + 0.55
    reward_x = rater_x + 0.5
    d.arrow(ax, (verdict_x, line - 0.23), (verdict_x, reward_y + 0.38))
    d.layer_block(ax, reward_x, reward_y, 2.3, 0.7, "reward model:\nSFT + a scalar head",
                  "highlight", fontsize=FONT)
    ax.text(reward_x - 1.35, reward_y, "trained so that r(A) > r(B):\n"
            "loss = −log σ(r(A) − r(B))", ha="right", va="center", fontsize=FONT,
            linespacing=1.35)

    # 3. PPO: the policy answers, the reward model scores, PPO updates; a loop.
    top = tops[3]
    _step(ax, left, top, inner, heights[3], 3, "reinforcement learning with PPO")
    line, low = top - 0.85, top - heights[3] + 0.55
    prompt_right = _box(ax, 0.3, line, PROMPT)
    policy_x = prompt_right + 1.35
    d.arrow(ax, (prompt_right + 0.06, line), (policy_x - 0.88, line))
    d.layer_block(ax, policy_x, line, 1.7, 0.7, "policy\n(a copy of SFT)", "highlight",
                  fontsize=FONT)
    answer_left = policy_x + 1.4
    d.arrow(ax, (policy_x + 0.88, line), (answer_left - 0.08, line))
    answer_right = _box(ax, answer_left, line, CHOSEN)
    ax.text((answer_left + answer_right) / 2, line + 0.38, "an answer", ha="center",
            va="bottom", fontsize=FONT, style="italic")
    scorer_x = answer_right + 1.45
    d.arrow(ax, (answer_right + 0.06, line), (scorer_x - 0.98, line))
    d.layer_block(ax, scorer_x, line, 1.9, 0.7, "reward model ❄", fontsize=FONT)
    reward = "reward = r − β·KL(policy ‖ SFT)"
    reward_w = 3.55
    reward_x = scorer_x - 0.5
    d.token_box(ax, reward_x, low, reward, None, width=reward_w, height=0.5,
                fontsize=FONT, mono=False)
    d.arrow(ax, (reward_x, line - 0.37), (reward_x, low + 0.27))
    ax.text(reward_x + 0.1, (line + low) / 2, "r", ha="left", va="center", fontsize=FONT,
            style="italic")
    frozen_x = width - 0.95
    d.layer_block(ax, frozen_x, low, 1.3, 0.7, "SFT ❄", fontsize=FONT)
    d.arrow(ax, (frozen_x - 0.67, low), (reward_x + reward_w / 2 + 0.06, low))
    d.layer_block(ax, policy_x, low, 1.7, 0.6, "PPO update", fontsize=FONT)
    d.arrow(ax, (reward_x - reward_w / 2 - 0.06, low), (policy_x + 0.88, low))
    d.arrow(ax, (policy_x, low + 0.32), (policy_x, line - 0.38))

    # DPO: the same pairs, straight to the policy.
    top = tops["DPO"]
    _step(ax, left, top, inner, heights["DPO"], "DPO",
          "the shortcut: from the same pairs straight to the policy")
    line = top - 0.8
    ax.text(0.3, top - 0.12, "the pairs of step 2", ha="left", va="top", fontsize=FONT,
            style="italic")
    ends = _pair(ax, 0.3, line + 0.4)
    (_, ya), (pair_right, yb) = ends
    pair_mid = (ya + yb) / 2
    policy_x = pair_right + 1.3
    for x, y in ends:
        d.arrow(ax, (x, y), (policy_x - 0.88, pair_mid + (y - pair_mid) * 0.4))
    d.layer_block(ax, policy_x, pair_mid, 1.7, 0.7, "policy\n(a copy of SFT)", "highlight",
                  fontsize=FONT)
    ax.text(policy_x + 1.1, pair_mid, "no reward model,\nno sampling:\none loss on the pairs",
            ha="left", va="center", fontsize=FONT, style="italic", linespacing=1.3)
    ax.text(width / 2, top - heights["DPO"] + 0.42,
            "loss = −log σ(β·(log-ratio(A) − log-ratio(B))),\n"
            "log-ratio(y) = log policy(y) − log SFT(y),  SFT ❄", ha="center", va="center",
            fontsize=FONT, linespacing=1.4)
    return fig


# ================================================================ results

@figure(
    "ppo-training",
    alt="PPO's training, with the KL penalty (beta 0.1) and without it, over 80 iterations, in "
    "three panels. Left: the reward model's mean score of the policy's answers to 128 "
    "held-out tasks, every 10 iterations; both runs rise fast in the first 10 iterations, "
    "then the run without the penalty keeps rising slowly while the other levels off. "
    "Middle: the KL from the SFT model per answer on the training samples (thin: each "
    "iteration; thick: the mean of the last 8); with the penalty it stays near 1 nat, "
    "without it it climbs past 10 after iteration 50. Right: the rater's win rate against "
    "the SFT model's answers on the same held-out tasks; with the penalty it rises to about "
    "65% and stays near it; without it it peaks at iteration 20 and then falls toward one "
    "half.",
)
def ppo_training() -> plt.Figure:
    from llm_evolution import zoo

    runs = {"β = 0.1 (ppo-chat)": zoo.get("ppo-chat").history,
            "β = 0 (ppo-no-kl)": zoo.get("ppo-no-kl").history}
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.3))
    for (label, history), marker, colour in zip(runs.items(), "os", ("C0", "C1")):
        metrics = history.metrics
        axes[0].plot(metrics["evaluated_at"], metrics["reward"], marker=marker, color=colour,
                     label=label)
        kl = metrics["kl"]
        mean = [sum(kl[max(0, i - 7): i + 1]) / len(kl[max(0, i - 7): i + 1])
                for i in range(len(kl))]
        axes[1].plot(history.steps, kl, color=colour, linewidth=0.6, alpha=0.4)
        axes[1].plot(history.steps, mean, color=colour, linewidth=1.8, label=label)
        axes[2].plot(metrics["evaluated_at"], [100 * w for w in metrics["win rate"]],
                     marker=marker, color=colour, label=label)
    axes[0].set_ylabel("reward model's score, held out")
    axes[1].set_ylabel("KL from SFT per answer (nats)")
    axes[2].set_ylabel("rater's win rate against SFT (%)")
    axes[2].axhline(50, color="grey", linewidth=0.8, linestyle=":")
    for ax in axes:
        ax.set_xlabel("PPO iteration")
    axes[0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


@figure(
    "reward-hacking",
    alt="The reward model's mean score (horizontal) against the rater's mean score (vertical) "
    "of each policy's answers to the same 128 held-out tasks, measured every 10 PPO "
    "iterations, for PPO with the KL penalty and without it, both starting from the same "
    "point at iteration 1. Both runs first move right and up: a higher reward, and answers "
    "the rater scores higher too. With the penalty the points then stay in one small "
    "cluster. Without it they keep moving right while the rater's score falls below "
    "where it started: the policy earns reward the rater does not give, which is reward "
    "hacking.",
)
def reward_hacking() -> plt.Figure:
    from llm_evolution import zoo

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for (label, name), marker in zip({"β = 0.1": "ppo-chat", "β = 0 (no KL)": "ppo-no-kl"}.items(),
                                     "os"):
        metrics = zoo.get(name).history.metrics
        ax.plot(metrics["reward"], metrics["rater score"], marker=marker, label=label)
        ax.annotate(f"iteration {metrics['evaluated_at'][-1]}",
                    (metrics["reward"][-1], metrics["rater score"][-1]),
                    textcoords="offset points", xytext=(6, -10), fontsize=8)
    first = zoo.get("ppo-chat").history.metrics
    ax.annotate("iteration 1", (first["reward"][0], first["rater score"][0]),
                textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel("reward model's score (what PPO maximises)")
    ax.set_ylabel("rater's score (what the labels stood for)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig

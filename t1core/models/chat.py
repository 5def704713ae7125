"""The prompt and chat template: defined once, used by synthesis, SFT, RL and eval.

The tiny model's tokenizer carries CHAT_TEMPLATE as its `chat_template`, so every
model (tiny or a real HF chat model with its own template) goes through
`tokenizer.apply_chat_template` and the code paths never diverge.
"""

from typing import Any

PAD, USER, ASSISTANT, END = "<|pad|>", "<|user|>", "<|assistant|>", "<|end|>"
SPECIAL_TOKENS = [PAD, USER, ASSISTANT, END]

CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}" + USER + "{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}" + ASSISTANT + "{{ m['content'] }}" + END + "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "{% endif %}"
)


def prompt_text(tokenizer: Any, problem: str) -> str:
    """The generation prompt for one problem, through the tokenizer's own chat template."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": problem}], tokenize=False, add_generation_prompt=True
    )


def prompt_ids(tokenizer: Any, problem: str) -> list[int]:
    """The generation prompt's token ids (SFT, RL rollouts and eval all start from these)."""
    return tokenizer(prompt_text(tokenizer, problem), add_special_tokens=False)["input_ids"]


def encode_example(tokenizer: Any, problem: str, response: str) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for SFT: labels are -100 on the prompt, the response + EOS is learned."""
    prompt = prompt_ids(tokenizer, problem)
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return prompt + response_ids, [-100] * len(prompt) + response_ids

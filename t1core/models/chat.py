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


def encode_example(tokenizer: Any, problem: str, response: str) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for SFT: labels are -100 on the prompt, the response + EOS is learned."""
    prompt_ids = tokenizer(prompt_text(tokenizer, problem), add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return prompt_ids + response_ids, [-100] * len(prompt_ids) + response_ids

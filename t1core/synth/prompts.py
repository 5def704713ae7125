"""Every prompt the teacher-LLM producer sends, in one place (DESIGN.md §2, the paper's SFT synthesis).

Four calls per problem: attempts (sampled), a critique of a wrong attempt that locates its
error, a verification of a right attempt, and a rewrite of the merged trace into one
natural train of thought. Critique and verification see the gold answer; the attempts do not.
"""

ATTEMPT = (
    "Solve the following math problem. Think step by step, and give the final answer as \\boxed{{answer}}.\n\n"
    "{problem}"
)

CRITIQUE = (
    "Problem: {problem}\n\n"
    "A student's solution:\n{attempt}\n\n"
    "The correct final answer is {answer}, so this solution is wrong. "
    "In one or two sentences, point out the first step where it goes wrong and why."
)

VERIFY = (
    "Problem: {problem}\n\n"
    "A solution:\n{attempt}\n\n"
    "Its final answer {answer} is correct. "
    "In one or two sentences, check it: put {answer} back into the problem's conditions and confirm they hold."
)

REWRITE = (
    "Rewrite the following reasoning as one person's natural train of thought, in the first person. "
    "Keep every attempt, every number, the moment the mistake is noticed, and the final check. "
    "End with the final answer written as \\boxed{{{answer}}}.\n\n"
    "{trace}"
)

# the merged trace, before the rewrite: wrong attempt -> reflection -> right attempt -> answer -> self-check
REFLECTION = "Wait, let me check that. {critique} Let me try again."
ANSWER = "So the answer is \\boxed{{{answer}}}."
SELF_CHECK = "Let me verify: {verification}"

"""The T1 objective against hand-computed values (DESIGN.md §2)."""

import math

import pytest
import torch

from t1core.config import RLConfig
from t1core.rl import objectives as obj
from t1core.grading.extract import count_answer_marks
from t1core.rl.penalties import KINDS, PenaltyFlags, flags, is_garbage, longest_run, repetition_fraction


def test_rloo_advantages_of_a_four_sample_group():
    # A_k = R_k - mean of the other three: for R = [1, 0, 0, 1], mean_{j!=0} = 1/3
    adv = obj.rloo_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
    assert adv.tolist()[0] == pytest.approx([2 / 3, -2 / 3, -2 / 3, 2 / 3])
    assert obj.rloo_advantages(torch.tensor([[1.0, 1.0, 1.0, 1.0]])).abs().max() == 0  # no signal


def test_centred_kl():
    d = torch.tensor([[0.4, 0.1, 0.1, 0.2]])
    # 0.4 - (0.1+0.1+0.2)/3, 0.1 - (0.4+0.1+0.2)/3, ..., 0.2 - (0.4+0.1+0.1)/3
    assert obj.centred_kl(d).tolist()[0] == pytest.approx([0.4 - 0.4 / 3, 0.1 - 0.7 / 3, 0.1 - 0.7 / 3, 0.0], abs=1e-7)


def test_shaped_returns_subtract_the_centred_kl():
    score, d = torch.tensor([[1.0, 0.0, 0.0, 1.0]]), torch.tensor([[0.4, 0.1, 0.1, 0.2]])
    r = obj.shaped_returns(score, d, kl_coef=0.5)
    assert r.tolist()[0] == pytest.approx([1 - 0.5 * (0.4 - 0.4 / 3), 0.5 * 0.7 / 3 - 0.5 * 0.1, 0.5 * 0.7 / 3 - 0.5 * 0.1, 1.0], abs=1e-6)


def test_entropy_of_known_distributions():
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25]]]))
    assert obj.token_entropy(logits).item() == pytest.approx(1.5 * math.log(2))
    assert obj.token_entropy(torch.zeros(1, 1, 7)).item() == pytest.approx(math.log(7))
    # temperature flattens: logits/τ with τ → ∞ approaches uniform
    assert obj.token_entropy(logits, temperature=1e6).item() == pytest.approx(math.log(3), abs=1e-5)


def test_fused_logprobs_and_entropy_match_the_separate_ones():
    logits, tokens = torch.randn(2, 3, 5), torch.randint(0, 5, (2, 3))
    lp, ent = obj.logprobs_and_entropy(logits, tokens, 1.3)
    assert torch.allclose(lp, obj.token_logprobs(logits, tokens, 1.3)) and torch.allclose(ent, obj.token_entropy(logits, 1.3))


def test_token_logprobs_at_a_temperature():
    logits = torch.tensor([[[2.0, 0.0]]])
    lp = obj.token_logprobs(logits, torch.tensor([[0]]), temperature=2.0)
    assert lp.item() == pytest.approx(1.0 - math.log(math.e + 1.0))  # log softmax([1, 0])[0]


def test_one_ema_step():
    ref, pol = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        for p in ref.parameters():
            p.fill_(1.0)
        for p in pol.parameters():
            p.fill_(3.0)
    obj.ema_update_(zip(ref.parameters(), pol.parameters()), rate=0.9)
    assert all(torch.allclose(p, torch.full_like(p, 0.9 * 1.0 + 0.1 * 3.0)) for p in ref.parameters())
    assert all(torch.allclose(p, torch.full_like(p, 3.0)) for p in pol.parameters())  # the policy is untouched


def test_a_bf16_anchor_averaged_in_float32_shadows_is_the_rounded_average():
    """bf16 weights of magnitude ~0.02 (spacing ~1e-4) and a policy whose float32 master moves 2e-6 a step: 100 EMA
    steps. With float32 shadows the anchor is exactly the bf16 rounding of the float32 average of the bf16 policies.
    Averaged in place in bf16 it walks off: measured, 2.3e-4 mean from the average after 200 steps of this kind
    (13 times the policy's own distance from it); the bound here is 5 times that distance."""
    gen = torch.Generator().manual_seed(0)
    master = torch.randn(20_000, generator=gen) * 0.02
    step = torch.randn(20_000, generator=gen).sign() * 2e-6
    policy = master.to(torch.bfloat16)
    exact, in_place, shadowed = policy.float(), policy.clone(), policy.clone()
    shadows = [shadowed.float()]
    for _ in range(100):
        master += step
        policy = master.to(torch.bfloat16)
        exact.mul_(0.9).add_(policy.float(), alpha=0.1)
        obj.ema_update_([(shadowed, policy)], 0.9, shadows)
        obj.ema_update_([(in_place, policy)], 0.9)
    assert shadowed.dtype == torch.bfloat16 and torch.equal(shadowed, exact.to(torch.bfloat16))
    policy_gap = (policy.float() - exact).abs().mean()
    assert (in_place.float() - exact).abs().mean() > 5 * policy_gap


def test_penalty_combination():
    reward, penalty = torch.tensor([1.0, 0.0, 1.0, 0.0]), torch.tensor([0.0, 0.0, -1.0, -1.0])
    assert obj.combine_penalty(reward, penalty, "replace").tolist() == [1.0, 0.0, -1.0, -1.0]
    assert obj.combine_penalty(reward, penalty, "add").tolist() == [1.0, 0.0, 0.0, -1.0]
    with pytest.raises(ValueError, match="penalty mode"):
        obj.combine_penalty(reward, penalty, "max")


def test_policy_loss_is_a_token_mean_and_the_clip_stops_the_gradient():
    logp = torch.tensor([[-1.0, -2.0, -5.0], [-1.0, 0.0, 0.0]], requires_grad=True)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    adv = torch.tensor([2.0, -1.0])
    loss = obj.policy_loss(logp, adv, mask)
    assert loss.item() == pytest.approx(-(2 * -1 + 2 * -2 + -1 * -1) / 3)  # three tokens weigh the same
    # a ratio far above 1 + ε with a positive advantage is clipped: no gradient through it
    old = logp.detach() - 1.0
    obj.policy_loss(logp, adv, mask, old_logp=old, clip=0.2).backward()
    assert logp.grad[0, 0].item() == 0.0 and logp.grad[1, 0].item() != 0.0


def test_each_penalty_fires_on_a_crafted_response_and_stays_silent_on_a_clean_one():
    cfg = RLConfig()
    clean = list(range(100))
    loop = [5, 6, 7, 8, 9, 10] * 20
    assert flags(clean, "x=2, so \\boxed{2}", True, cfg) == PenaltyFlags(False, False, False)
    assert flags(clean, "x=2", False, cfg).overlong
    assert flags(loop, "x=2", True, cfg).repetitive and repetition_fraction(loop, 12) > 0.9
    assert repetition_fraction(clean, 12) == 0.0 and repetition_fraction([1, 2], 12) == 0.0
    for junk in ("", "  \n", "ab\ufffdcd", "x<|user|>y", "a\x00b"):
        assert is_garbage(junk), junk
    assert not is_garbage("Check: 7*53=371 ok\nSo the answer is \\boxed{7}.")


TRACE = "x=3: 27-9-30+6=0\nCheck: 3^3-3^2-10*3+6=0 ok\nSo the answer is \\boxed{3}.\nVerify: ok"


@pytest.mark.parametrize(
    "text,kind",
    [
        (TRACE + " \\boxed{3} \\boxed{3}", "spam"),  # the same answer marked three times
        ("\\boxed{1} \\boxed{2} \\boxed{3}", "spam"),  # a shotgun over candidates
        ("#### 3\nthe answer is 3.\n\\boxed{3}", "spam"),  # mixed marks count together
        (TRACE + " " * 300, "padding"),  # filler up to the length limit
        (TRACE + "\n" * 40, "padding"),
        ("0" * 40 + " so \\boxed{3}", "padding"),
    ],
)
def test_reward_hacking_guards_fire(text, kind):
    fired = flags(list(range(len(text))), text, True, RLConfig())
    assert getattr(fired, kind) and fired.value(RLConfig()) == -1.0
    assert fired.value(RLConfig(**{f"penalty_{kind}": False})) == 0.0


def test_reward_hacking_guards_stay_silent_on_clean_answers():
    cfg = RLConfig()
    for text in (TRACE, "So the answer is \\boxed{3}. Restated: \\boxed{3}", "x = 10000000000 (ten zeros)", "####  7"):
        fired = flags(list(range(len(text))), text, True, cfg)
        assert not (fired.spam or fired.padding), text
    assert count_answer_marks(TRACE) == 1 and count_answer_marks("the answer is \\boxed{5}") == 1
    assert longest_run("") == 0 and longest_run("a" + " " * 39 + "b") == 39


def test_the_guards_reach_eval_through_the_same_detectors():
    from t1core.eval import evaluator
    from t1core.rl import trainer

    assert evaluator.penalties.flags is flags and trainer.flags is flags and set(KINDS) >= {"spam", "padding"}


def test_penalty_switches():
    fired = PenaltyFlags(overlong=True, repetitive=False, garbage=False)
    assert fired.value(RLConfig()) == -1.0
    assert fired.value(RLConfig(penalty_overlong=False)) == 0.0
    assert PenaltyFlags(False, True, True).value(RLConfig(penalty_repetition=False)) == -1.0  # garbage still on
    assert PenaltyFlags(False, False, False).value(RLConfig()) == 0.0
    assert PenaltyFlags(False, False, False, spam=True).value(RLConfig()) == -1.0
    assert PenaltyFlags(False, False, False, padding=True).value(RLConfig(penalty_padding=False)) == 0.0

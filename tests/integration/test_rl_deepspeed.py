"""T1 RL on a real DeepSpeed engine (gloo, CPU): the update moves every parameter, the
reference follows the EMA rule exactly, and a run resumes from its last complete round."""

import copy
import itertools
from types import SimpleNamespace

import pytest
import torch

from t1core.config import DeepSpeedConfig, ModelConfig, RLConfig
from t1core.data.records import Problem
from t1core.grading import Grader
from t1core.models.chat import encode_example, prompt_text
from t1core.models.checkpoint import latest_checkpoint
from t1core.models.engine import make_engine
from t1core.models.factory import build_tiny
from t1core.models.tokenizer import train_tokenizer
from t1core.rl import trainer as trainer_module
from t1core.rl.trainer import RLTrainer, oversampled
from t1core.rollout import make_rollout_engine
from t1core.sft.data import Example, collate
from tests.conftest import last_bar

pytestmark = pytest.mark.integration
TINY = ModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, max_seq_len=128, vocab_size=300)
PROBLEMS = [Problem(id=f"p{a}_{b}", source="t", problem=f"Compute {a}+{b}.", answer=str(a + b))
            for a in range(10, 30, 3) for b in range(5, 20, 4)]
CFG = dict(k=4, prompts_per_step=3, temperature=1.2, max_new_tokens=8, lr=1e-2, entropy_coef=1e-2, kl_coef=0.1,
           ema_rate=0.5, drop_uniform_groups=True)


def _response(p: Problem) -> str:
    return f"\\boxed{{{p.answer}}}"


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer([f"{p.problem}\n{_response(p)}" for p in PROBLEMS], vocab_size=300)


@pytest.fixture(scope="module")
def warm_state(tok):
    """A tiny model given plain SFT steps until 40-95 % of its samples at τ=1.2 are right (mixed rewards).

    The stopping point is measured, not fixed: the locally trained BPE can break merge ties
    differently between machines, and accuracy rises from ~10 % to ~90 % within 80 steps.
    """
    model = build_tiny(TINY, tok, seed=0)
    rows = [encode_example(tok, p.problem, _response(p)) for p in PROBLEMS]
    batch = collate([Example(ids, labels) for ids, labels in rows], tok.pad_token_id)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sampler, grader = make_rollout_engine("cpu", tok), Grader()
    prompts = [tok(prompt_text(tok, p.problem), add_special_tokens=False)["input_ids"] for p in PROBLEMS]
    acc = 0.0
    for step in range(1, 401):
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad()
        if step >= 100 and step % 10 == 0:
            out = sampler.generate(model, prompts * 2, 8, temperature=1.2, seed=step)
            acc = sum(grader(tok.decode(t), p.answer).correct for t, p in zip(out.tokens, PROBLEMS * 2)) / len(out.tokens)
            if acc >= 0.4:
                break
    assert 0.4 <= acc <= 0.95, f"warm-up ended at {acc:.2f} sampled accuracy after {step} steps"
    return {k: v.clone() for k, v in model.state_dict().items()}


def _trainer(tok, warm_state, tmp_path, **overrides):
    cfg = RLConfig(**{**CFG, **overrides})
    model = build_tiny(TINY, tok, seed=0)
    model.load_state_dict(warm_state)
    reference = copy.deepcopy(model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95))
    engine = make_engine(model, opt, None, DeepSpeedConfig(), cfg.grad_clip, "float32")
    return RLTrainer(engine, reference, tok, PROBLEMS, cfg, Grader(), make_rollout_engine("cpu", tok), seed=5,
                     ckpt_dir=tmp_path / "ckpt")


def _params(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def test_two_rl_steps_move_every_parameter_and_the_reference_follows_the_ema(tok, warm_state, tmp_path):
    tr = _trainer(tok, warm_state, tmp_path)
    before = _params(tr.engine.module)
    for i in range(2):
        ref_before = _params(tr.reference)
        m = tr.step()
        tr.state.step += 1
        assert m["groups_used"] > 0 and m["adv_abs_max"] > 0  # a reward signal (grades or penalties), not only entropy
        if i == 0:  # the warmed model's own samples are mixed; after one update at this lr they may all be wrong
            assert 0 < m["accuracy"] < 1
        pol, ref = _params(tr.engine.module), _params(tr.reference)
        for name in pol:
            assert torch.allclose(ref[name], 0.5 * ref_before[name] + 0.5 * pol[name], atol=1e-6), name
    unchanged = [n for n, p in _params(tr.engine.module).items() if torch.equal(p, before[n])]
    assert not unchanged


def test_a_bf16_anchor_is_the_rounded_float32_average_of_the_policies(tok, warm_state, tmp_path):
    """bf16 policy and anchor, as on the GPU profiles: 40 EMA steps towards a policy whose float32 master moves by
    2e-6 a step, far below bf16's spacing. The trainer's anchor is exactly the bf16 rounding of the float32 EMA of
    the bf16 policies it saw (bf16 in place, it would drift: tests/unit/test_rl_objectives.py)."""
    model = build_tiny(TINY, tok, seed=0)
    model.load_state_dict(warm_state)
    reference = copy.deepcopy(model).to(torch.bfloat16)
    master = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.to(torch.bfloat16)
    tr = RLTrainer(SimpleNamespace(module=model), reference, tok, PROBLEMS, RLConfig(**{**CFG, "ema_rate": 0.9}),
                   Grader(), make_rollout_engine("cpu", tok), seed=5, ckpt_dir=tmp_path / "ckpt")
    exact = {n: p.detach().float() for n, p in reference.named_parameters()}
    gen = torch.Generator().manual_seed(0)
    step = {n: torch.randn(m.shape, generator=gen).sign() * 2e-6 for n, m in master.items()}
    with torch.no_grad():
        for _ in range(40):
            for n, p in model.named_parameters():
                master[n] += step[n]
                p.copy_(master[n])  # rounds to bf16
                exact[n].mul_(0.9).add_(p.float(), alpha=0.1)
            tr.move_anchor()
    for n, r in tr.reference.named_parameters():
        assert r.dtype == torch.bfloat16 and torch.equal(r, exact[n].to(torch.bfloat16)), n


def test_a_bf16_anchor_resumes_with_its_float32_copies(tok, warm_state, tmp_path):
    """A bf16 run's round checkpoint carries the anchor's float32 copies, so a resumed run moves its anchor
    exactly as the uninterrupted one. Without them (older checkpoints) the copies restart from the bf16 anchor
    and the two anchors part within a few steps."""
    def trainer(name):
        model = build_tiny(TINY, tok, seed=0)
        model.load_state_dict(warm_state)
        reference = copy.deepcopy(model).to(torch.bfloat16)
        model.to(torch.bfloat16)
        engine = make_engine(model, torch.optim.AdamW(model.parameters(), lr=1e-3), None, DeepSpeedConfig(), 1.0, "bfloat16")
        return RLTrainer(engine, reference, tok, PROBLEMS, RLConfig(**{**CFG, "ema_rate": 0.9}), Grader(),
                         make_rollout_engine("cpu", tok), seed=5, ckpt_dir=tmp_path / name)

    gen = torch.Generator().manual_seed(0)
    moves = [{n: torch.randn(p.shape, generator=gen) * 2e-5 for n, p in warm_state.items()} for _ in range(10)]

    def steps(tr, chunk):  # the policy moves by less than bf16's spacing, then the anchor follows
        with torch.no_grad():
            for move in chunk:
                for n, p in tr.engine.module.named_parameters():
                    p.copy_(p.float() + move[n])
                tr.move_anchor()

    first = trainer("a")
    steps(first, moves[:5])
    saved = first.save_checkpoint()
    policy = _params(first.engine.module)
    steps(first, moves[5:])
    for files in ("with copies", "without"):
        resumed = trainer(files)
        resumed.resume(saved)
        with torch.no_grad():
            for n, p in resumed.engine.module.named_parameters():
                p.copy_(policy[n])  # the policy as saved (the moves above bypass the optimizer's own copy)
        steps(resumed, moves[5:])
        same = [torch.equal(r, _params(first.reference)[n]) for n, r in _params(resumed.reference).items()]
        assert all(same) if files == "with copies" else not all(same), files
        (saved / "anchor_fp32.rank0.pt").unlink(missing_ok=True)


def test_oversampling_draws_for_the_uniform_rate_seen_and_trains_at_most_b_groups(tok, warm_state, tmp_path):
    """At a running uniform rate of 0.5, the first call draws oversampled(3, 0.5) = 10 prompts for B = 3, trains at
    most 3 groups, and moves the rate towards this step's; without over-sampling the call draws B."""
    for on, first_draw in ((True, 10), (False, 3)):
        tr = _trainer(tok, warm_state, tmp_path / str(on), oversample=on)
        tr.state.uniform_rate = 0.5
        m = tr.step()
        assert m["prompts_sampled"] >= first_draw and tr.state.epoch * len(PROBLEMS) + tr.state.cursor == m["prompts_sampled"]
        assert m["groups_used"] <= 3 and m["sampling_calls"] >= 1
        assert tr.state.uniform_rate == pytest.approx(0.7 * 0.5 + 0.3 * m["zero_variance_fraction"], abs=1e-6)
    fresh = _trainer(tok, warm_state, tmp_path / "fresh")
    m = fresh.step()  # no rate seen yet: the first call draws B, and the rate is this step's
    assert fresh.state.uniform_rate == pytest.approx(m["zero_variance_fraction"], abs=1e-6)
    assert m["prompts_sampled"] == 3 or m["sampling_calls"] > 1


def test_oversampled_prompt_counts():
    assert [oversampled(16, u) for u in (0.0, 0.25, 0.5)] == [16, 25, 40]  # (16 + sqrt(16 u / (1 - u))) / (1 - u)
    assert oversampled(0, 0.5) == 0 and oversampled(1, 0.5) == 4


def test_frozen_reference_stays_put(tok, warm_state, tmp_path):
    tr = _trainer(tok, warm_state, tmp_path, frozen_reference=True)
    ref_before = _params(tr.reference)
    tr.step()
    assert all(torch.equal(p, ref_before[n]) for n, p in _params(tr.reference).items())


def test_resume_from_the_last_complete_round_matches_an_uninterrupted_run(tok, warm_state, tmp_path):
    straight = _trainer(tok, warm_state, tmp_path / "a", rounds=2, steps_per_round=2)
    straight.train()
    first = _trainer(tok, warm_state, tmp_path / "b", rounds=1, steps_per_round=2)
    first.train()
    ckpt = latest_checkpoint(tmp_path / "b" / "ckpt", "round_")
    assert ckpt.name == "round_01" and (ckpt / "reference" / "model.safetensors").is_file()

    resumed = _trainer(tok, warm_state, tmp_path / "c", rounds=2, steps_per_round=2)
    resumed.resume(ckpt)
    assert (resumed.state.step, resumed.state.round, resumed.state.cursor) == (2, 1, first.state.cursor)
    resumed.train()
    assert [h["loss"] for h in resumed.state.history] == pytest.approx([h["loss"] for h in straight.state.history], abs=1e-6)
    final_a, final_c = _params(straight.engine.module), _params(resumed.engine.module)
    assert all(torch.allclose(final_a[n], final_c[n], atol=1e-6) for n in final_a)
    assert all(torch.allclose(a, c, atol=1e-6) for a, c in zip(straight.reference.parameters(), resumed.reference.parameters()))


def test_the_time_cap_cuts_a_round_short_with_a_checkpoint_and_the_bar_ends_where_it_stopped(tok, warm_state, tmp_path,
                                                                                          monkeypatch, capsys):
    ticks = itertools.count()
    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(monotonic=lambda: next(ticks) * 0.1))  # a fake clock
    tr = _trainer(tok, warm_state, tmp_path, rounds=3, steps_per_round=4, max_minutes=0.1)  # 6 s of 12 planned steps
    st = tr.train()
    assert 1 < st.step < 12 and st.train_seconds >= 6  # the cap, not the planned steps, ended it
    assert st.round == -(-st.step // 4)  # the round the cap cut short still counts
    assert latest_checkpoint(tmp_path / "ckpt", "round_").name == f"round_{st.round:02d}"
    assert last_bar(capsys.readouterr().err, "rl") == (st.step, st.step)  # the bar's total followed the cap, not the planned 12

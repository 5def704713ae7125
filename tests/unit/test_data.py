"""Loaders, strict JSONL reading and the bad-input corpus."""

import json

import pytest

from t1core.data.jsonl import Quarantine, read_jsonl, write_jsonl
from t1core.data.loaders import load_benchmark, load_gsm8k, load_math, load_numina, strip_benchmark_suffix
from t1core.data.records import DataError, RowError

from tests.conftest import FIXTURES


def test_math_loader_recovers_boxed_answer_and_level():
    p = load_math({"problem": "1+1?", "level": "Level 2", "type": "Algebra", "solution": r"It is $\boxed{\frac{a}{b}}$."}, 7)
    assert (p.id, p.answer, p.level, p.subject) == ("math:7", r"\frac{a}{b}", 2, "Algebra")
    assert load_math({"problem": "x", "level": "Level ?", "type": "T", "solution": "none"}, 1).level is None
    assert load_math({"problem": "x", "level": "Level 1", "type": "T", "solution": "no box"}, 1).answer is None


def test_gsm8k_loader_reads_hash_answer():
    p = load_gsm8k({"question": "How many?", "answer": "3+4 = <<3+4=7>>7\n#### 1,007"}, 3)
    assert (p.answer, p.solution) == ("1007", "3+4 = <<3+4=7>>7")
    with pytest.raises(RowError) as e:
        load_gsm8k({"question": "q", "answer": "no final line"}, 1)
    assert e.value.field == "answer"


def test_benchmark_loader_strips_the_qwen_suffix():
    row = {"problem": "Find $n$.\nPlease reason step by step, and put your final answer within \\boxed{}.", "answer": 113}
    p = load_benchmark(row, 4, "aime24")
    assert (p.problem, p.answer, p.id) == ("Find $n$.", "113", "aime24:4")
    m5 = {"problem": "p", "solution": "s", "answer": "3", "subject": "Algebra", "level": 2, "unique_id": "test/x.json"}
    assert load_benchmark(m5, 1, "math500").id == "math500:test/x.json"
    assert strip_benchmark_suffix("Q?") == "Q?"


def test_numina_fixture_loads():
    rows = list(read_jsonl(FIXTURES / "numina_sample.jsonl", lambda r, n: load_numina(r, n)))
    assert [r.answer for r in rows] == ["5", None, "4"]
    assert rows[0].subject == "synthetic_math"


# (file content as bytes, expected line, expected field or None, message fragment)
BAD_INPUTS = [
    (b'{"problem": "a", "solution": "\\\\boxed{1}"}\n{"problem": "b", "solut', 2, None, "malformed JSON"),
    (b'{"problem": "a", "solution": "s"}\n[1, 2]\n', 2, None, "expected a JSON object"),
    (b'{"solution": "s"}\n', 1, "problem", "missing field"),
    (b'{"problem": 5, "solution": "s"}\n', 1, "problem", "expected str, got int"),
    (b'{"problem": "p", "solution": "s", "extra": 1}\n', 1, "extra", "unexpected field"),
    (b'{"problem": "p", "solution": ["s"]}\n', 1, "solution", "expected str, got list"),
    (b'{"problem": "   ", "solution": "s"}\n', 1, "problem", "empty text"),
    (b'{"problem": "ok", "solution": "s"}\n{"problem": "caf\xe9", "solution": "s"}\n', 2, None, "not UTF-8"),
    (b"", 0, None, "empty file"),
]


@pytest.mark.parametrize("content,line,field,fragment", BAD_INPUTS)
def test_bad_input_names_file_line_field(tmp_path, content, line, field, fragment):
    f = tmp_path / "bad.jsonl"
    f.write_bytes(content)
    with pytest.raises(DataError) as e:
        list(read_jsonl(f, lambda r, n: load_math(r, n)))
    assert (e.value.file, e.value.line, e.value.field) == (str(f), line, field)
    assert fragment in str(e.value) and str(f) in str(e.value)


def test_quarantine_keeps_good_rows_and_counts_bad_ones(tmp_path):
    f = tmp_path / "mixed.jsonl"
    f.write_bytes(
        b'{"problem": "a", "solution": "\\\\boxed{1}"}\n'
        b"not json\n"
        b'{"problem": "b", "solution": "\\\\boxed{2}"}\n'
        b'{"problem": 3, "solution": "x"}\n'
        b"\n"
        b'{"problem": "c\xff", "solution": "x"}\n'
    )
    q = Quarantine()
    good = list(read_jsonl(f, lambda r, n: load_math(r, n), q))
    assert [p.answer for p in good] == ["1", "2"]
    assert [(r["line"], r["field"]) for r in q.rows] == [(2, None), (4, "problem"), (6, None)]
    out = tmp_path / "q.jsonl"
    q.write(out)
    assert len(out.read_text().splitlines()) == 3


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        list(read_jsonl(tmp_path / "nope.jsonl", lambda r, n: r))


def test_write_jsonl_is_atomic_and_round_trips(tmp_path):
    rows = [{"a": 1, "t": "é"}, {"a": 2}]
    path = tmp_path / "sub" / "x.jsonl"
    assert write_jsonl(path, rows) == 2
    assert [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()] == rows
    assert not list(path.parent.glob("*.tmp"))

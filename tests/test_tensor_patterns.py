"""`-ot` patterns: the same answer as a regex search, refused syntax named, bounded work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vramtui.cli.main import main
from vramtui.core.errors import SettingsError, VramtuiError
from vramtui.core.estimate.pattern import Matcher, PatternError
from vramtui.core.estimate.tensor_rules import EXPS_REGEX, MAX_RULES, parse_override_tensor
from vramtui.core.model.source import open_model
from vramtui.core.scenario.files import load_scenario

PATTERNS = (
    EXPS_REGEX,
    r"blk\.(1[0-9]|2[0-9])\.ffn_.*_exps",
    r"^token_embd",
    r"weight$",
    r"blk\.[0-9]+\.ffn_(up|down)_exps\.weight",
    r"blk\.\d{1,2}\.attn",
    r"^blk\.([0-9]|1[0-5])\.",
    r"[^.]+\.weight$",
    r"(?:attn|ffn)_norm",
    r"",
    r"blk\.(2[0-4]|[01]?[0-9])\.ffn",
    r"ffn_.*?_exps",
    r"[a-z]{3}\.",
    r"(blk\.)?0\.",
    r"[\].-]",
    r"\S+\D\d",
    r"(ffn_(up|down)){1,2}",
)


def test_matcher_agrees_with_a_regex_search_on_real_tensor_names() -> None:
    names = [t.name for t in open_model("qwen3-30b-a3b:Q4_K_M").tensors] + ["", "x\ny"]
    for pattern in PATTERNS:
        matcher, regex = Matcher(pattern), re.compile(pattern)
        for name in names:
            assert matcher.search(name) == (regex.search(name) is not None), (pattern, name)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("a(?!b)", "lookaround"),
        (r"(a)\1", "escape"),
        (r"\bffn", "escape"),
        ("a**", "quantifier after a quantifier"),
        ("a{99}", "outside"),
        ("a{²}", "not {m}"),
        ("(" * 9 + "a" + ")" * 9, "nested"),
        ("a" * 300, "longer than"),
        ("^*", "anchor"),
    ],
)
def test_unsupported_syntax_is_refused_with_its_reason(pattern: str, why: str) -> None:
    with pytest.raises(PatternError, match=re.escape(why)):
        Matcher(pattern)


def test_catastrophic_patterns_answer_at_once() -> None:
    """`(.|.)*Z` kept Python's backtracking regex (and the app, holding the GIL) busy for ever;
    the matcher's work grows with the name only."""
    name = "a" * 5000
    for pattern in ("(.|.)*Z", "(a*)*b", "(a|aa)+$b", ".*" * 50 + "Z"):
        assert Matcher(pattern).search(name) is False
    assert Matcher("(.|.)*Z").search(name + "Z") is True


def test_catastrophic_override_is_answered_by_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["estimate", "llama-3.1-8b:Q4_K_M", "-ot", "(.|.)*Z=CPU"])
    assert code == 0
    assert capsys.readouterr().out


def test_rules_are_capped_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    text = ",".join(["exps=CPU"] * (MAX_RULES + 1))
    with pytest.raises(SettingsError, match=f"more than {MAX_RULES} rules"):
        parse_override_tensor(text)
    assert len(parse_override_tensor(",".join(["exps=CPU"] * MAX_RULES))) == MAX_RULES
    with pytest.raises(SystemExit) as exc:
        main(["plan", "llama-3.1-8b:Q4_K_M", "-ot", text])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "override-tensor" in err


def test_a_shared_preset_with_a_hostile_pattern_is_refused_naming_the_field(
    tmp_path: Path,
) -> None:
    preset = tmp_path / "p.toml"
    preset.write_text(
        'format = 1\nmodel = "llama-3.1-8b:Q4_K_M"\n[machine]\nid = "hp-zbook-ultra-g1a-64gb"\n'
        '[settings]\noverride_tensor = "(?!x)a=CPU"\n'
    )
    with pytest.raises(VramtuiError, match=r"settings\.override_tensor: .*lookaround"):
        load_scenario(str(preset))

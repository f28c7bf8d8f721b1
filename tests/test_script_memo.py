"""Script blocks that passed the libcst checks are remembered between runs."""

import pytest

from codemod.errors import RuleError
from codemod.smpl import script

GOOD = "n = len(x)\ncoccinelle.y = str(n)\n"


@pytest.fixture
def memo_dir(tmp_path):
    script.remember_checks(tmp_path / "cache")
    yield tmp_path / "cache"
    script.remember_checks(None)


def test_a_checked_block_is_not_checked_again_in_a_later_run(memo_dir, monkeypatch):
    assert script.check_script(GOOD, "r.cocci", 5, {"x"}, ("y",)) == {"n"}
    assert list((memo_dir / "scripts").iterdir())
    script.remember_checks(memo_dir)  # a new run: the memo comes from disk

    def no_check(*args):
        raise AssertionError("checked again")
    monkeypatch.setattr(script, "_check_script", no_check)
    assert script.check_script(GOOD, "r.cocci", 5, {"x"}, ("y",)) == {"n"}
    # What the check depends on is in the key: other inputs are checked.
    with pytest.raises(AssertionError):
        script.check_script(GOOD, "r.cocci", 5, {"x"}, ())


def test_errors_are_reported_with_their_position_every_time(memo_dir):
    bad = "coccinelle.y = undefined_name\n"
    for _ in range(2):
        with pytest.raises(RuleError) as exc:
            script.check_script(bad, "r.cocci", 7, set(), ("y",))
        assert "undefined_name" in str(exc.value) and "r.cocci:7:" in str(exc.value)


def test_a_corrupt_memo_is_ignored(memo_dir):
    script.check_script(GOOD, "r.cocci", 5, {"x"}, ("y",))
    (memo_file,) = (memo_dir / "scripts").iterdir()
    memo_file.write_text('{"k": [1, 2]')
    script.remember_checks(memo_dir)
    with pytest.raises(RuleError):
        script.check_script("coccinelle.y = z\n", "r.cocci", 1, set(), ("y",))
    assert script.check_script(GOOD, "r.cocci", 5, {"x"}, ("y",)) == {"n"}

"""recall.py's error-path comparison when the label itself sets errp."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("scripts.recall", REPO / "scripts" / "recall.py")
recall = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recall)

ORIG = {"kind": "goto", "value": '"out of memory"', "label": "err_end", "errp_used": False,
        "errp_at_label": True}


def test_jump_to_the_same_label_that_sets_errp_agrees():
    mine = recall.parse_error_path('msg = "Could not allocate buf"; goto err_end')
    assert recall.compare_paths(ORIG, mine) == (True, [])
    assert recall.same_value(ORIG, mine)


def test_jump_elsewhere_does_not_inherit_the_label_errp():
    mine = recall.parse_error_path("ret = -ENOMEM; goto out")
    agree, kinds = recall.compare_paths(ORIG, mine)
    assert not agree and kinds == ["different goto label", "errp used by the original only"]


def test_errp_set_by_allocfix_only_is_still_a_disagreement():
    orig = {"kind": "goto", "value": "-ENOMEM", "label": "fail", "errp_used": False, "errp_at_label": False}
    mine = recall.parse_error_path("error_setg(errp); ret = -ENOMEM; goto fail")
    assert recall.compare_paths(orig, mine) == (False, ["errp used by allocfix only"])


def test_release_calls_skip_reports_frees_and_the_return():
    body = ('error_report("no memory");\ng_free(a);\nunlock_user_struct(tfilter, tfprog->filter,\n'
            '                   1);\nqemu_mutex_unlock(&s->lock);\nreturn -TARGET_ENOMEM;')
    assert recall.release_calls(body) == ["unlock_user_struct(tfilter,tfprog->filter,1)",
                                          "qemu_mutex_unlock(&s->lock)"]
    summary = "error_setg(errp); g_free(a); qemu_mutex_unlock(&s->lock); return -ENOMEM"
    assert recall.release_calls(summary) == ["qemu_mutex_unlock(&s->lock)"]
    assert recall.release_calls("ret = -ENOMEM; goto fail") == []


def test_break_out_of_a_loop_is_compared_by_its_status_value():
    orig = {"kind": "break", "value": "-ENOMEM", "label": None, "errp_used": False}
    same = recall.parse_error_path("ret = -ENOMEM; break")
    assert same["kind"] == "break" and recall.compare_paths(orig, same) == (True, [])
    assert recall.same_value(orig, same)
    other = recall.parse_error_path("ret = -EIO; break")
    assert recall.compare_paths(orig, other) == (False, ["different status value"])
    ret = recall.parse_error_path("return -ENOMEM")
    assert recall.compare_paths(orig, ret) == (False, ["original break, allocfix return"])
    assert not recall.same_value(orig, ret)

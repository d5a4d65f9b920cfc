"""Examples at trigger points, NO_EDIT rules, balancing, and leak-free deterministic splits."""

from __future__ import annotations

from dataclasses import replace

from nep_core.actions import NO_EDIT, Action
from nep_core.examples import ExampleConfig, ExampleReport, balance, build_examples, make_examples, split_sessions
from nep_core.session import Event, Session


def _session(times_and_actions, session_id="s", source=None):
    events = [Event(t=t, action=action) for t, action in times_and_actions]
    return Session(id=session_id, domain="tags", events=events, meta={"source_id": source} if source else {})


OPEN_A = Action("open", target="a")
OPEN_B = Action("open", target="b")
CLOSE_B = Action("close", target="b")
SCROLL = Action("scroll", args={"dir": "up"}, edit=False)


def test_targets_follow_horizon_pause_and_non_edit_rules(tags_domain):
    config = ExampleConfig(horizon_events=2, horizon_seconds=30, pause_seconds=20)
    session = _session(
        [
            (0.0, OPEN_A),  # next edit open(b) comes after one scroll: within 2 events
            (1.0, SCROLL),  # next edit is open(b)
            (2.0, OPEN_B),  # then a 40 s pause: NO_EDIT
            (42.0, SCROLL),  # two non-edits follow, horizon 2: NO_EDIT
            (43.0, SCROLL),
            (44.0, SCROLL),  # next is close(b)
            (45.0, CLOSE_B),  # end of session: NO_EDIT
        ]
    )
    targets = [example.target for example in make_examples(session, tags_domain, config)]
    assert targets[0] == OPEN_B
    assert targets[1] == OPEN_B
    assert targets[2].is_no_edit
    assert targets[3].is_no_edit
    assert targets[5] == CLOSE_B
    assert targets[6].is_no_edit
    assert len(targets) == 7
    no_trigger_on_views = make_examples(session, tags_domain, replace(config, trigger_on_non_edits=False))
    assert len(no_trigger_on_views) == 3


def test_a_cut_session_makes_no_example_in_its_context_part_nor_where_the_cut_hides_the_target(tags_domain):
    config = ExampleConfig(horizon_events=2, horizon_seconds=30, pause_seconds=20)
    steps = [(0.0, OPEN_A), (1.0, OPEN_B), (2.0, SCROLL), (40.0, CLOSE_B), (41.0, OPEN_A), (42.0, SCROLL)]
    whole = [example.target for example in make_examples(_session(steps), tags_domain, config)]
    assert whole == [OPEN_B, NO_EDIT, NO_EDIT, OPEN_A, NO_EDIT, NO_EDIT]
    cut = _session(steps)
    cut.meta.update(context_events=1, open_end=True)
    examples = make_examples(cut, tags_domain, config)
    # from event 1 on; the pause before close(b) is a known NO_EDIT; the last two run off the cut
    assert [(example.trigger, example.target) for example in examples] == [(1, NO_EDIT), (2, NO_EDIT), (3, OPEN_A)]
    assert len(examples[0].context.history) == 2  # the context part is still history


def test_jump_is_a_change_of_location(tags_domain):
    session = _session([(0.0, OPEN_A), (1.0, OPEN_B), (2.0, CLOSE_B)])
    examples = make_examples(session, tags_domain, ExampleConfig())
    assert [example.jump for example in examples] == [True, False, False]


def test_balance_caps_the_no_edit_share_deterministically(tags_domain, tags_sessions):
    config = replace(tags_domain.examples, max_no_edit_share=0.1)
    examples = [example for session in tags_sessions[:80] for example in make_examples(session, tags_domain, config)]
    report = ExampleReport()
    kept = balance(examples, config, report)
    share = sum(example.target.is_no_edit for example in kept) / len(kept)
    assert report.no_edit_made > report.no_edit_kept
    assert 0.09 <= share <= 0.101
    again = balance(examples, config, ExampleReport())
    assert [(e.session_id, e.trigger) for e in again] == [(e.session_id, e.trigger) for e in kept]


def test_splits_are_deterministic_and_keep_sources_together(tags_domain):
    sessions = [_session([(0.0, OPEN_A)], session_id=f"s{index}", source=f"repo{index % 40}") for index in range(120)]
    splits = split_sessions(sessions, tags_domain.examples)
    assert all(splits[name] for name in ("train", "val", "test"))
    sources = {name: {session.source for session in part} for name, part in splits.items()}
    assert not sources["train"] & sources["val"] and not sources["train"] & sources["test"] and not sources["val"] & sources["test"]
    assert split_sessions(list(reversed(sessions)), tags_domain.examples)["test"][0].source in sources["test"]
    # Adding more data never moves an existing source to another split (the split is a hash of the source).
    more = sessions + [_session([(0.0, OPEN_A)], session_id=f"n{index}", source=f"new{index}") for index in range(30)]
    grown = {name: {session.source for session in part} for name, part in split_sessions(more, tags_domain.examples).items()}
    for name in ("train", "val", "test"):
        assert sources[name] <= grown[name]


def test_copies_of_a_session_train_with_it_and_never_count_twice_in_evaluation(tags_domain):
    originals = [_session([(0.0, OPEN_A)], session_id=f"s{index}", source=f"repo{index}") for index in range(40)]
    copies = [replace(s, id=f"{s.id}-copy", meta={**s.meta, "copy_of": s.id}) for s in originals]
    plain = split_sessions(originals, tags_domain.examples)
    splits = split_sessions(originals + copies, tags_domain.examples)
    assert all(plain[name] for name in ("train", "val", "test"))
    assert [s.id for s in splits["val"]] == [s.id for s in plain["val"]]  # copies dropped outside train
    assert [s.id for s in splits["test"]] == [s.id for s in plain["test"]]
    assert sorted(s.id for s in splits["train"]) == sorted([s.id for s in plain["train"]] + [f"{s.id}-copy" for s in plain["train"]])


def test_build_examples_reports_shares(tags_domain, tags_sessions):
    splits = split_sessions(tags_sessions, tags_domain.examples)
    examples, report = build_examples(splits, tags_domain)
    summary = report.as_dict()
    assert summary["per_split"]["train"] == len(examples["train"]) > 0
    assert 0.0 < summary["no_edit_share"] < 1.0
    assert summary["examples_made"] == summary["examples_kept"]  # no caps configured for tags


def test_next_actions_the_action_space_cannot_write_are_left_out_counted_and_named(tags_domain):
    """A collector's typo (a wrong argument name) used to shrink the data without a word."""
    typo = Action("write", args={"wrod": "x"})
    session = _session([(0.0, OPEN_A), (1.0, typo), (2.0, OPEN_B), (3.0, typo)], session_id="typo")
    examples, report = build_examples({"train": [], "val": [], "test": [session]}, tags_domain)
    assert [example.target for example in examples["test"]] == [OPEN_B, NO_EDIT]  # made after each write; none before one
    assert report.unwritable_targets == 2 and report.as_dict()["unwritable_targets"] == 2
    warning = report.unwritable_warning()
    assert warning == ("2 next action(s) the action space cannot write were left out, no example made at them "
                       "(first: session 'typo', after event 1: write: missing argument 'word')")
    assert ExampleReport().unwritable_warning() is None


def test_few_sources_still_fill_every_split(tags_domain):
    sessions = [_session([(0.0, OPEN_A)], session_id=f"s{index}") for index in range(3)]
    splits = split_sessions(sessions, tags_domain.examples)
    assert [len(splits[name]) for name in ("train", "val", "test")] == [1, 1, 1]


def test_a_killed_default_dataset_builds_folder_is_removed_by_the_next_build(tmp_path, monkeypatch, tags_domain):
    import shutil
    import subprocess

    from nep_core.dataset import default_data_dir

    monkeypatch.setenv("NEP_HOME", str(tmp_path))
    folder = default_data_dir(tags_domain)
    dead = subprocess.Popen(["true"])
    dead.wait()
    killed = folder.with_name(f".{folder.name}.{dead.pid}.tmp")  # a process that is gone
    building = folder.with_name(f".{folder.name}.1.tmp")  # pid 1 runs: another build, left alone
    for leftover in (killed, building):
        leftover.mkdir()
        (leftover / "half.jsonl").write_text("{")
    shutil.rmtree(folder)
    assert default_data_dir(tags_domain) == folder and (folder / "DONE").exists()
    assert not killed.exists() and building.exists()


def test_a_default_dataset_folder_without_done_is_replaced_by_a_whole_copy(tmp_path, monkeypatch, tags_domain):
    """DONE is written before the rename, so a folder without it is no finished copy: it used to be read as one
    (and, for a moment in this change, was a raw 'Directory not empty' error on every run)."""
    from nep_core.dataset import default_data_dir
    from nep_core.sessionlog import log_files

    monkeypatch.setenv("NEP_HOME", str(tmp_path))
    folder = default_data_dir(tags_domain)
    whole = len(log_files(folder))
    (folder / "DONE").unlink()
    for path in log_files(folder)[1:]:
        path.unlink()
    assert default_data_dir(tags_domain) == folder and (folder / "DONE").exists() and len(log_files(folder)) == whole

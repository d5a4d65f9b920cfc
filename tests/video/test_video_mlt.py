"""Kdenlive and Shotcut project files (MLT XML) as the editors save them: files/ holds a Kdenlive 25.12
project with a sequence and Shotcut 25 projects (a background track, a transition, 29.97 fps)."""

from __future__ import annotations

import shutil
from pathlib import Path

import opentimelineio as otio
import pytest

from nep_core.errors import NepError
from nep_video.formats import read_timeline
from nep_video.mlt import parse_time
from nep_video.timeline import items_of, source_range, tracks_of, view_of

FILES = Path(__file__).parent / "files"


def spans(track) -> list:
    """(type, name, in, duration) of each child; a transition's (type, name, in_offset, out_offset)."""
    return [(type(child).__name__, child.name, child.in_offset.value, child.out_offset.value) if isinstance(child, otio.schema.Transition)
            else (type(child).__name__, child.name, source_range(child).start_time.value, source_range(child).duration.value) for child in track]


def test_a_kdenlive_project_with_sequences_is_read_through_its_project_tractor():
    """Kdenlive 23.04+ ends with the project tractor, whose one track plays the sequence: it was taken
    for the timeline and every track dropped ('tracks: none')."""
    tracks = tracks_of(read_timeline(FILES / "kd25.kdenlive"))
    assert [(track.name, track.kind) for track in tracks] == [("Dialogue", "Audio"), ("Interview", "Video")]
    assert spans(tracks[1]) == [("Clip", "interview.mp4", 100, 100), ("Gap", "", 0, 25), ("Clip", "interview.mp4", 300, 100),
                                ("Clip", "interview.mp4", 500, 100)]


def test_a_shotcut_project_has_no_background_track_and_its_tracks_are_named():
    """Shotcut's background is a color producer 'black' with resource '0': it was read as a track with a clip '0'."""
    tracks = tracks_of(read_timeline(FILES / "shot.mlt"))
    assert [track.name for track in tracks] == ["V1"]
    assert [item.name for item in items_of(tracks[0])] == ["interview.mp4", "", "broll.mp4", "interview.mp4"]


def test_a_shotcut_transition_is_a_dissolve_between_the_clips_it_joins():
    """It was refused: "no producer 'tractor1' in the file". The playlist plays 75 + 25 + 100 + 100 frames."""
    track = tracks_of(read_timeline(FILES / "shot_trans.mlt"))[0]
    assert spans(track) == [("Clip", "interview.mp4", 100, 87), ("Transition", "lumaMix", 12, 13), ("Clip", "broll.mp4", 37, 113),
                            ("Clip", "interview.mp4", 300, 100)]
    assert track.duration().value == 300
    # the dissolve starts 12 frames before the cut: interview.mp4 at 00:00:07.000 (frame 175), broll.mp4 at 00:00:01.000 (frame 25)
    assert 100 + 87 - 12 == 175 and 37 - 12 == 25
    assert view_of(read_timeline(FILES / "shot_trans.mlt")).tracks[0][0].trail == 12


def test_a_nested_tractor_that_is_no_transition_is_refused_in_words(tmp_path):
    text = (FILES / "shot_trans.mlt").read_text().replace('<property name="shotcut:transition">lumaMix</property>', "")
    (tmp_path / "nested.mlt").write_text(text)
    with pytest.raises(NepError, match=r"'tractor1' is a nested tractor, not a Shotcut transition; NEP reads a Shotcut transition only"):
        read_timeline(tmp_path / "nested.mlt")


def test_clock_times_at_ntsc_rates_are_whole_frames_as_mlt_counts_them():
    """`whole = seconds * rate` was never rounded: 00:00:12.000 at 29.97 was 359.64 frames."""
    track = tracks_of(read_timeline(FILES / "shot2997.mlt"))[0]
    assert spans(track)[3] == ("Clip", "interview.mp4", 360, 119)
    assert all(float(value).is_integer() for item in spans(track) for value in item[2:])
    rate = 30000 / 1001
    assert [parse_time(value, rate, "t") for value in ("00:00:12.000", "01:00:00.000", "00:00:04:00", "00:04:05")] == [360, 107892, 120, 125]


def test_a_project_saved_by_kdenlive_is_read_under_another_name_too(tmp_path):
    shutil.copyfile(FILES / "kd25.kdenlive", tmp_path / "cut.mlt")
    assert len(tracks_of(read_timeline(tmp_path / "cut.mlt"))) == 2

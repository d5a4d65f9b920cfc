"""Reading timelines: .otio, CMX3600 EDL and FCP7 XML through the real adapters, MLT XML, and bad input as one-line errors."""

from __future__ import annotations

import opentimelineio as otio
import pytest

from nep_core.errors import NepError
from nep_video.formats import read_timeline
from nep_video.timeline import items_of, source_range, tracks_of, view_of
from video_timelines import awkward, interview, write

MLT = """<?xml version="1.0" encoding="utf-8"?>
<mlt LC_NUMERIC="C" producer="main_bin" version="7.12.0">
 <profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>
 <producer id="black_track" in="00:00:00.000" out="00:10:00.000"><property name="resource">black</property><property name="mlt_service">color</property></producer>
 <producer id="producer0" in="0" out="2499"><property name="length">2500</property><property name="resource">/media/INT_ANNA_take1.mov</property></producer>
 <chain id="chain1" out="00:00:40.000"><property name="length">1001</property><property name="resource">/media/BROLL_01.mov</property></chain>
 <playlist id="main_bin"><entry producer="producer0" in="0" out="2499"/></playlist>
 <playlist id="black"><entry producer="black_track" in="0" out="14999"/></playlist>
 <playlist id="playlist0"><property name="kdenlive:track_name">V1</property>
  <entry producer="producer0" in="100" out="195"/>
  <blank length="25"/>
  <entry producer="chain1" in="00:00:02.000" out="00:00:04:00"/>
 </playlist>
 <playlist id="playlist1"/>
 <tractor id="tractor0"><track producer="playlist0"/><track producer="playlist1"/></tractor>
 <tractor id="maintractor"><track producer="black"/><track producer="tractor0"/></tractor>
</mlt>
"""


def test_otio_round_trip_keeps_gaps_transitions_stacks_and_mixed_rates(tmp_path):
    write(awkward(), tmp_path / "cut.otio")
    view = view_of(read_timeline(tmp_path / "cut.otio"))
    assert [item.type for item in view.tracks[0]] == ["clip", "clip", "gap", "clip", "stack", "clip"]
    assert view.rate == 24 and view.tracks[0][3].duration == 72


@pytest.mark.parametrize("suffix", [".otio", ".otioz", ".edl", ".xml"])
def test_nep_writes_each_format_it_names_and_reads_it_back(tmp_path, suffix):
    """`.otioz` failed: OTIO's writer refuses a path that exists, and the atomic temporary file did."""
    from nep_video.formats import write_timeline

    write(interview(), tmp_path / "source.otio")
    timeline = read_timeline(tmp_path / "source.otio")
    out = tmp_path / f"out{suffix}"
    write_timeline(timeline, out)
    again = view_of(read_timeline(out))
    assert [item.type for item in again.tracks[0]] == [item.type for item in view_of(timeline).tracks[0]]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["source.otio", out.name])


def test_cmx3600_edl_through_the_adapter(tmp_path):
    write(interview(4, rate=25.0), tmp_path / "cut.edl", "cmx_3600")
    timeline = read_timeline(tmp_path / "cut.edl", rate=25.0)
    track = tracks_of(timeline)[0]
    assert [item.name for item in items_of(track)] == ["INT_1", "INT_2", "INT_3", "INT_4"]
    assert [source_range(item).start_time.value for item in items_of(track)] == [100, 300, 500, 700]
    assert all(source_range(item).duration.value == 96 for item in items_of(track))


def test_fcp7_xml_through_the_adapter(tmp_path):
    write(interview(3), tmp_path / "cut.xml", "fcp_xml")
    timeline = read_timeline(tmp_path / "cut.xml")
    items = items_of(tracks_of(timeline)[0])
    assert [(item.name, source_range(item).start_time.value, source_range(item).duration.value) for item in items] == [
        ("INT_1", 100, 96), ("INT_2", 300, 96), ("INT_3", 500, 96)]
    assert view_of(timeline).tracks[0][0].head == 100  # the media range survives FCP XML


def test_kdenlive_mlt_xml(tmp_path):
    (tmp_path / "cut.kdenlive").write_text(MLT)
    timeline = read_timeline(tmp_path / "cut.kdenlive")
    view = view_of(timeline)
    assert view.rate == 25 and len(view.tracks) == 1  # black track and the empty playlist skipped
    assert [(item.type, item.duration) for item in view.tracks[0]] == [("clip", 96), ("gap", 25), ("clip", 51)]
    assert view.tracks[0][0].head == 100 and view.tracks[0][0].tail == 2500 - 196
    assert view.tracks[0][2].head == 50 and view.tracks[0][2].name == "BROLL_01.mov"


@pytest.mark.parametrize("name, content, message", [
    ("cut.edl", "TITLE: x\n001  AX V C 00:00:00:00 junk\n", r"cut\.edl: cannot read as cmx_3600: "),
    ("cut.xml", "<xmeml><sequence>", r"cut\.xml: cannot read as fcp_xml: "),
    ("cut.otio", "{not json", r"cut\.otio: cannot read as otio_json: "),
    ("cut.kdenlive", "<mlt><playlist id='p'><entry producer='nope' in='0' out='9'/></playlist><tractor id='t'><track producer='p'/></tractor></mlt>",
     r"cut\.kdenlive: playlist 'p' entry 0\.producer: no producer 'nope'"),
    ("cut.mlt", "<mlt><producer id='a'/><playlist id='p'><entry producer='a' in='0' out='x9'/></playlist><tractor id='t'><track producer='p'/></tractor></mlt>",
     r"cut\.mlt: playlist 'p' entry 0\.out: 'x9' is neither frames nor a clock time"),
    ("cut.docx", "whatever", r"cut\.docx: unsupported format '\.docx'"),
])
def test_unreadable_files_are_one_line_errors_naming_the_file(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(NepError, match=message) as caught:
        read_timeline(tmp_path / name)
    assert "\n" not in str(caught.value) and str(tmp_path) in str(caught.value)


def test_a_clip_of_unknown_length_names_the_track_item_and_fields(tmp_path):
    import opentimelineio as otio

    timeline = interview(2)
    tracks_of(timeline)[0][1].source_range = None
    tracks_of(timeline)[0][1].media_reference = otio.schema.MissingReference()
    write(timeline, tmp_path / "broken.otio")
    with pytest.raises(NepError, match=r"broken\.otio: V1 clip 2 'INT_2': no source_range and no media available_range"):
        read_timeline(tmp_path / "broken.otio")
    with pytest.raises(NepError, match=r"missing\.otio: no such file"):
        read_timeline(tmp_path / "missing.otio")


def test_an_edl_is_read_at_the_lowest_rate_its_timecodes_allow_unless_told(tmp_path):
    from nep_video.formats import edl_frame_rate
    from video_timelines import clip

    pal = otio.schema.Timeline(name="pal", global_start_time=otio.opentime.RationalTime(0, 25))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.extend([clip("A", 124, 50, 25.0), clip("B", 300, 60, 25.0)])  # A starts at 00:00:04:24
    pal.tracks.append(track)
    write(pal, tmp_path / "pal.edl", "cmx_3600")
    write(interview(3), tmp_path / "film.edl", "cmx_3600")
    (tmp_path / "ntsc.edl").write_text("TITLE: ntsc\nFCM: DROP FRAME\n\n001  AX       V     C        01:00:00;00 01:00:01;00 00:00:00;00 00:00:01;00\n")
    assert (edl_frame_rate(tmp_path / "pal.edl"), edl_frame_rate(tmp_path / "film.edl"), edl_frame_rate(tmp_path / "ntsc.edl")) == (25.0, 24.0, 30000 / 1001)
    items = items_of(tracks_of(read_timeline(tmp_path / "pal.edl"))[0])
    assert [(source_range(item).start_time.value, source_range(item).duration.value, source_range(item).duration.rate) for item in items] == [
        (124, 50, 25.0), (300, 60, 25.0)]
    told = items_of(tracks_of(read_timeline(tmp_path / "pal.edl", rate=30.0))[0])
    assert source_range(told[0]).start_time.rate == 30.0


DROP_FRAME_EDL = """TITLE: REEL CUT
FCM: DROP FRAME

001  A001C003 V     C        10:15:04;10 10:15:08;10 01:00:00;00 01:00:04;00
* FROM CLIP NAME: A001C003.MOV
002  A001C003 V     C        10:15:12;10 10:15:16;10 01:00:04;00 01:00:08;00
* FROM CLIP NAME: A001C003.MOV
"""


@pytest.mark.parametrize("rate", [None, 29.97, 30000 / 1001])
def test_a_drop_frame_edl_is_read_at_ntsc_rate_inferred_or_told(tmp_path, rate):
    """OTIO reads SMPTE timecode at 30000/1001 only: 29.97 failed ('SMPTE timecode does not support this rate')."""
    (tmp_path / "df.edl").write_text(DROP_FRAME_EDL)
    timeline = read_timeline(tmp_path / "df.edl", rate=rate)
    items = items_of(tracks_of(timeline)[0])
    assert [source_range(item).duration.value for item in items] == [120, 120]
    assert source_range(items[0]).start_time.rate == 30000 / 1001
    assert otio.opentime.to_timecode(source_range(items[0]).start_time) == "10:15:04;10"


@pytest.mark.parametrize("told, exact", [(23.976, 24000 / 1001), (23.98, 24000 / 1001), (59.94, 60000 / 1001)])
def test_an_ntsc_rate_written_as_a_decimal_is_read_as_its_exact_rate(tmp_path, told, exact):
    (tmp_path / "cut.edl").write_text(DROP_FRAME_EDL.replace(";", ":").replace("FCM: DROP FRAME", "FCM: NON-DROP FRAME"))
    items = items_of(tracks_of(read_timeline(tmp_path / "cut.edl", rate=told))[0])
    assert source_range(items[0]).duration.rate == exact and source_range(items[0]).duration.value == 4 * round(exact)


MISMATCHED_EDL = """TITLE: mismatch
FCM: NON-DROP FRAME

001  AX       V     C        01:00:00:00 01:00:01:00 00:00:00:00 00:00:01:00
* FROM CLIP NAME: A.MOV

002  AX       V     C        01:00:05:00 01:00:06:00 00:00:01:00 00:00:02:01
* FROM CLIP NAME: B.MOV
"""


def test_an_edl_whose_record_times_disagree_with_its_source_is_read_by_source_with_a_note(tmp_path):
    (tmp_path / "mismatch.edl").write_text(MISMATCHED_EDL)
    notes: list[str] = []
    items = items_of(tracks_of(read_timeline(tmp_path / "mismatch.edl", notes=notes))[0])
    assert [(item.name, source_range(item).duration.value) for item in items] == [("A.MOV", 24), ("B.MOV", 24)]
    assert len(notes) == 1 and notes[0].startswith(f"{tmp_path / 'mismatch.edl'}: record timecodes disagree with the source")


def test_a_time_scale_is_not_taken_for_the_frame_rate(tmp_path):
    from nep_video.timeline import timeline_rate
    from video_timelines import clip

    avfoundation = otio.schema.Timeline(name="avf", global_start_time=otio.opentime.RationalTime(0, 1))  # as AVFoundation writes it
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(clip("A", 0, 60000, 24000.0, available=(0, 240240)))
    avfoundation.tracks.append(track)
    write(avfoundation, tmp_path / "avf.otio")
    assert timeline_rate(read_timeline(tmp_path / "avf.otio")) == 24.0  # neither 1 nor 24000: the default
    track.append(clip("B", 0, 50, 25.0))
    track.remove(track[0])
    assert timeline_rate(avfoundation) == 25.0  # the first clip at a frame rate


def test_hidden_files_are_not_timelines(tmp_path):
    """A temporary file a killed write left (``.cut.123.tmp.otio``), or an editor's, is not read as a version."""
    from nep_video.formats import is_timeline_file

    (tmp_path / ".cut.4242.tmp.otio").write_text("{")
    (tmp_path / "cut.otio").write_text("{")
    assert [is_timeline_file(tmp_path / name) for name in (".cut.4242.tmp.otio", "cut.otio")] == [False, True]


def test_a_latin1_edl_is_read(tmp_path):
    """Avid on Windows writes Latin-1: it was refused with a UnicodeDecodeError."""
    (tmp_path / "cut.edl").write_bytes(DROP_FRAME_EDL.replace("A001C003.MOV", "Café.MOV", 1).encode("latin-1"))
    assert [clip.name for clip in read_timeline(tmp_path / "cut.edl").find_clips()] == ["Café.MOV", "A001C003.MOV"]


def test_what_is_not_one_timeline_is_said_in_words(tmp_path):
    (tmp_path / "binary.otio").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (tmp_path / "list.otio").write_text("[]")
    collection = otio.schema.SerializableCollection(name="two", children=[interview(2), interview(3)])
    collection[1].name = "second"
    otio.adapters.write_to_file(collection, str(tmp_path / "two.otio"))
    with pytest.raises(NepError, match=r"binary\.otio: a binary file, not OTIO JSON$"):
        read_timeline(tmp_path / "binary.otio")
    with pytest.raises(NepError, match=r"list\.otio: holds a list, not a timeline$"):
        read_timeline(tmp_path / "list.otio")
    notes: list[str] = []
    assert len(items_of(tracks_of(read_timeline(tmp_path / "two.otio", notes=notes))[0])) == 2
    assert notes == [f"{tmp_path / 'two.otio'}: holds 2 timelines ('interview', 'second'); NEP uses the first, 'interview'"]


def test_otio_cpp_type_names_are_schema_names():
    from nep_video.formats import readable_types

    assert readable_types("KeyError: <class 'N14opentimelineio4v1_04ClipE'>") == "KeyError: <class 'Clip'>"

"""Real OTIO timelines for the video tests: built with OTIO, written to disk and read back by the tests."""

from __future__ import annotations

import opentimelineio as otio

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange


def clip(name: str, start: float, duration: float, rate: float = 24.0, media: str | None = None, available: tuple[float, float] | None = (0, 2400)):
    reference = otio.schema.ExternalReference(
        target_url=f"file:///media/{media or name}.mov",
        available_range=None if available is None else TR(RT(available[0], rate), RT(available[1], rate)),
    )
    return otio.schema.Clip(name=name, media_reference=reference, source_range=TR(RT(start, rate), RT(duration, rate)))


def interview(clips: int = 6, rate: float = 24.0) -> otio.schema.Timeline:
    """One video track of interview segments from one take: 96 frames each, 100 frames apart in the take."""
    timeline = otio.schema.Timeline(name="interview", global_start_time=RT(0, rate))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for index in range(clips):
        track.append(clip(f"INT_{index + 1}", 100 + 200 * index, 96, rate, media="INT_ANNA_take1"))
    timeline.tracks.append(track)
    return timeline


def awkward() -> otio.schema.Timeline:
    """Gaps, a transition, a nested stack, a 30 fps clip on a 24 fps timeline, a clip without a media range, two tracks."""
    timeline = otio.schema.Timeline(name="awkward", global_start_time=RT(0, 24))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(clip("A", 48, 48))
    video.append(otio.schema.Transition(name="Dissolve", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                                        in_offset=RT(6, 24), out_offset=RT(6, 24)))
    video.append(clip("B", 100, 72))
    video.append(otio.schema.Gap(source_range=TR(RT(0, 24), RT(24, 24))))
    video.append(clip("C30", 300, 90, rate=30.0))  # 90 frames at 30 fps = 72 timeline frames
    nested = otio.schema.Stack(name="Nested")
    inner = otio.schema.Track(name="inner")
    inner.append(clip("N1", 0, 48))
    nested.append(inner)
    video.append(nested)
    video.append(clip("NoRange", 10, 40, available=None))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(clip("A-audio", 48, 48))
    audio.append(clip("B-audio", 100, 72))
    timeline.tracks.append(video)
    timeline.tracks.append(audio)
    return timeline


def write(timeline: otio.schema.Timeline, path, adapter: str | None = None) -> None:
    otio.adapters.write_to_file(timeline, str(path), adapter_name=adapter)

"""Generate synthetic sessions in one bpy process: ``python -m nep_blender.synthetic.worker JOB.json OUT.jsonl``.

JOB is ``{"seed": S, "indices": [...]}``. Each session depends only on (seed, index): it starts from
Blender's empty factory scene, or its start-up scene that the artist clears first, with the undo
system started, and chains the recipe families of one
theme (``recipes.plan_session``). OUT gets one JSON object per line, ``{"index", "theme",
"families", "events", "start_scene", "family_starts" (the event each part starts at: clearing the
start-up scene, then each family), "ms"}``, or
``{"index", "error", "ms"}`` for a session whose recipe failed; ``ms`` is the time it took.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

START_UP_SCENE_SHARE = 0.6
"""Sessions that start in Blender's start-up scene (cube, camera, light) and clear it first; the rest start empty."""


def generate(bpy, space, seed: int, index: int) -> dict:
    from nep_blender.bpy_calls import current_context, viewport_override
    from nep_blender.synthetic.builder import RecipeFailed, SessionBuilder
    from nep_blender.synthetic.recipes import FAMILIES, plan_session

    rng = random.Random(f"blender-synthetic:{seed}:{index}")
    start_up_scene = rng.random() < START_UP_SCENE_SHARE
    bpy.ops.wm.read_factory_settings(use_empty=not start_up_scene)
    bpy.ops.ed.undo_push(message="start")  # background mode starts without an undo system
    builder = SessionBuilder(bpy, space, rng)
    theme, families = plan_session(rng)
    family = families[0]
    family_starts = []  # where each part of the session starts (clearing the start-up scene is a part)
    try:
        with bpy.context.temp_override(**viewport_override(bpy)):
            if start_up_scene:
                family_starts.append(0)
                builder.clear_start_scene()
            for position, family in enumerate(families):
                family_starts.append(len(builder.events))
                if position:
                    if current_context(bpy)["active"] == "MESH" and rng.random() < 0.25:
                        builder.hesitate()
                    if rng.random() < 0.35:
                        builder.op("object.select_all", action="DESELECT")
                    builder.look(0.4)
                    builder.maybe_pause(0.25)
                FAMILIES[family](builder)
    except RecipeFailed as error:
        return {"index": index, "error": f"{family}: {error}"}
    return {
        "index": index, "theme": theme, "families": families, "events": builder.events,
        "start_scene": "startup" if start_up_scene else "empty", "family_starts": family_starts,
    }


def main() -> None:
    job_path, out_path = sys.argv[1], sys.argv[2]
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    os.dup2(2, 1)  # bpy and its operators print to stdout; results go to OUT
    import bpy

    from nep_blender.action_space import BlenderActionSpace
    from nep_blender.registry import load_registry

    space = BlenderActionSpace(load_registry())
    with open(out_path, "w", encoding="utf-8") as out:
        for index in job["indices"]:
            started = time.perf_counter()
            record = generate(bpy, space, job["seed"], index)
            record["ms"] = round(1000 * (time.perf_counter() - started), 1)
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
            out.flush()


if __name__ == "__main__":
    main()

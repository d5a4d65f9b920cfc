"""A long-lived bpy process that replays sessions and tries operator calls: ``python -m nep_blender.replay_worker``.

Requests come one JSON object per line on stdin: ``{"history": [action, ...], "predicted": action}``;
answers go one per line to the file descriptor named by ``NEP_REPLAY_FD`` (bpy prints to stdout):
``{"valid": bool, "error": str | null, "changed": bool, "result": [...], "replayed": int}``.

Replaying follows undo: each ``ed.undo`` cancels the newest edit not yet cancelled. View operators
cannot run without a window and change nothing a later call depends on, so a non-edit that fails is
passed over; an edit that fails is counted in ``replay_errors``. The scene after the history is
saved to a scratch ``.blend``: a request whose history extends the previous one (a session growing
by one action) replays only the new actions from there.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def effective_calls(history: list[dict]) -> list[dict]:
    """The history's actions with undone edits (and the undos) taken out."""
    kept: list[dict] = []
    for action in history:
        if action.get("kind") == "ed.undo":
            for position in range(len(kept) - 1, -1, -1):
                if kept[position].get("edit", True):
                    del kept[position]
                    break
        elif action.get("kind") != "ed.redo":
            kept.append(action)
    return kept


class Replayer:
    def __init__(self, bpy, scratch: str):
        self.bpy = bpy
        self.base = os.path.join(scratch, "base.blend")
        self.history: list[dict] = []
        self.dirty = True

    def _run(self, action: dict) -> str | None:
        from nep_blender.bpy_calls import CallRefused, run_call

        try:
            result = run_call(self.bpy, action["kind"], action.get("args", {}))
        except (CallRefused, RuntimeError, TypeError, ValueError) as error:
            return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None if "FINISHED" in result else f"{action['kind']} returned {sorted(result)}"

    def replay(self, history: list[dict]) -> tuple[int, int]:
        """Bring the scene to the state after ``history``; returns (calls replayed, edits that failed)."""
        calls = effective_calls(history)
        previous = effective_calls(self.history)
        extends = len(history) >= len(self.history) and history[: len(self.history)] == self.history and calls[: len(previous)] == previous
        if extends and os.path.exists(self.base):
            if self.dirty:
                self.bpy.ops.wm.open_mainfile(filepath=self.base)
            todo = calls[len(previous) :]
        else:
            self.bpy.ops.wm.read_factory_settings(use_empty=True)
            todo = calls
        errors = sum(1 for action in todo if self._run(action) is not None and action.get("edit", True))
        if todo or not os.path.exists(self.base) or not extends:
            self.bpy.ops.wm.save_as_mainfile(filepath=self.base, copy=True)
        self.history = list(history)
        self.dirty = False
        return len(todo), errors

    def try_call(self, predicted: dict) -> dict:
        from nep_blender.bpy_calls import scene_fingerprint

        before = scene_fingerprint(self.bpy)
        self.dirty = True
        error = self._run(predicted)
        changed = error is None and scene_fingerprint(self.bpy) != before
        return {"valid": error is None and (changed or not predicted.get("edit", True)), "error": error, "changed": changed}


def main() -> None:
    answers = os.fdopen(int(os.environ["NEP_REPLAY_FD"]), "w", encoding="utf-8")
    os.dup2(2, 1)  # bpy's own output goes to stderr
    import bpy

    replayer = Replayer(bpy, tempfile.mkdtemp(prefix="nep-replay-"))
    for line in sys.stdin:
        request = json.loads(line)
        replayed, replay_errors = replayer.replay(request["history"])
        answer = replayer.try_call(request["predicted"])
        if answer["valid"] is False and answer["error"] is None:
            answer["error"] = "the scene did not change"
        answer.update(replayed=replayed, replay_errors=replay_errors)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()

"""A long-lived bpy process that replays sessions and tries operator calls: ``python -m nep_blender.replay_worker``.

Protocol: one JSON object per line on stdin, ``{"history": [action, ...], "predicted": action,
"reuse": bool, "start": "empty" | "startup"}``; answers go one per line to the file descriptor named by ``NEP_REPLAY_FD``, since
bpy prints to stdout (fd 1 is pointed at stderr before bpy loads). The first line written is
``{"ready": true}`` once bpy has loaded; then one answer per request: ``{"valid": bool, "error":
str | null, "changed": bool, "refused": bool, "replayed": int, "replay_errors": int}``, where
``refused`` says the call was turned away before it met the scene (not an operator call of this
Blender, or one that can reach outside the scene). End of stdin ends the worker.

A history action or prediction that carries ``"selection": {"active": name, "selected": [names]}``
(from the context it was logged with) runs with those objects selected again, in object mode, since
a click that selects is not an operator and is not logged.

Every call runs inside the factory screen's 3D viewport (``bpy_calls.viewport_override``), so view
operators and loop cuts run headless as they do in the UI. Undo is replayed by taking the undone
call out (``effective_calls``) rather than by Blender's undo stack, which does not survive the
scratch file. A non-edit that fails is passed over; an edit that fails counts in ``replay_errors``.
Calls that can reach outside the scene (files, scripts, preferences, presets, the copy buffer,
``wm``, a file-path argument: ``bpy_calls.reaches_outside``) never run: skipped in the history, refused
as a prediction. Calls that render or bake (``bpy_calls.polled_only``) take seconds to hours and leave
the scene as it was (or write caches to disk), so they are not run either: a prediction of one is
valid when its arguments are right and its poll passes in the replayed scene, and the history passes
over them. (NEP never suggests either kind, ``bpy_calls.outside_reason``; the worker still judges
what it is given.)

Prefix reuse: the scene after the replayed history is saved to a scratch ``.blend``; a request whose
history extends the previous one (a session growing by one action) reopens it and replays only the
new actions. ``"reuse": false`` replays from the factory scene every time (the baseline). The
factory scene is the empty one, or with ``"start": "startup"`` Blender's start-up scene (cube,
camera, light), where a session recorded from a fresh Blender begins.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

from nep_core.errors import first_line
from nep_blender.bpy_calls import polled_only, reaches_outside  # the one rule the add-on's Accept and the registry share

UNDO, REDO = "ed.undo", "ed.redo"
UNDO_BOOKKEEPING = frozenset({"ed.undo_push", "ed.undo_history"})


def effective_calls(history: list[dict]) -> list[dict]:
    """The history's calls as they stand after its undos and redos (which are taken out).

    ``ed.undo`` cancels the newest call not yet cancelled that Blender keeps an undo step for
    (``"undoable"``, default true), ``ed.redo`` brings the newest cancelled one back, and a new
    undoable call forgets what could be redone, as in Blender.
    """
    kept: list[dict] = []
    undone: list[dict] = []
    for action in history:
        kind = action.get("kind")
        if kind == UNDO:
            for position in range(len(kept) - 1, -1, -1):
                if kept[position].get("undoable", True):
                    undone.append(kept.pop(position))
                    break
        elif kind == REDO:
            if undone:
                kept.append(undone.pop())
        elif kind not in UNDO_BOOKKEEPING:
            kept.append(action)
            if action.get("undoable", True):
                undone.clear()
    return kept


class Replayer:
    """Holds the scene of the last replayed history and its scratch copy."""

    def __init__(self, bpy, scratch: str):
        self.bpy = bpy
        self.base = os.path.join(scratch, "base.blend")
        self.history: list[dict] | None = None  # the history whose scene ``base`` holds
        self.start = "empty"  # the factory scene that history starts from
        self.dirty = True  # the live scene differs from ``base``

    def run(self, action: dict) -> tuple[str | None, bool, bool]:
        """Run one call, in the selection it was made in where the action names it (clicks that select
        are not logged); returns (error or None, whether anything may have changed, whether it was
        refused unrun)."""
        from nep_blender.bpy_calls import CallRefused, check_call, operator, path_arguments, run_call, select_as_recorded, viewport_override

        kind, args = action.get("kind"), action.get("args") or {}
        function = operator(self.bpy, kind)
        if reaches_outside(kind, args) or (function is not None and path_arguments(function, args)):
            return f"not run: {kind} can reach outside the scene (files, scripts, preferences)", False, True
        selected = "selection" in action and select_as_recorded(self.bpy, action["selection"])
        try:
            with self.bpy.context.temp_override(**viewport_override(self.bpy)):
                if polled_only(kind):
                    return (None if check_call(self.bpy, kind, args).poll() else f"{kind}: poll() failed in this scene"), selected, False
                result = run_call(self.bpy, kind, args)
        except CallRefused as error:
            return first_line(error), selected, True
        except RuntimeError as error:
            message = first_line(error)
            return message, selected or "poll() failed" not in message, False
        except Exception as error:  # an operator's own Python code can raise anything
            return f"{type(error).__name__}: {first_line(error)}", True, False
        return (None if "FINISHED" in result else f"{kind} returned {', '.join(sorted(result))}"), True, False

    def replay(self, history: list[dict], reuse: bool = True, start: str = "empty") -> tuple[int, int]:
        """Bring the scene to the state after ``history`` from the ``start`` scene; returns (calls replayed, edits that failed)."""
        calls = effective_calls(history)
        previous = effective_calls(self.history) if self.history is not None else []
        extends = (
            reuse
            and self.history is not None
            and start == self.start
            and history[: len(self.history)] == self.history
            and calls[: len(previous)] == previous
        )
        if extends:
            if self.dirty:
                self.bpy.ops.wm.open_mainfile(filepath=self.base, load_ui=True)
            to_replay = calls[len(previous) :]
        else:
            self.bpy.ops.wm.read_factory_settings(use_empty=start != "startup")
            to_replay = calls
        self.history, self.dirty = None, True
        errors = 0
        for action in to_replay:
            error, _, _ = self.run(action)
            errors += error is not None and not error.startswith("not run:") and action.get("edit", True)
        if reuse:
            if to_replay or not extends:
                self.bpy.ops.wm.save_as_mainfile(filepath=self.base, copy=True)
            self.history, self.start, self.dirty = list(history), start, False
        return len(to_replay), errors

    def try_call(self, predicted: dict) -> dict:
        """Run the predicted call on the replayed scene and judge it."""
        from nep_blender.bpy_calls import scene_fingerprint

        before = scene_fingerprint(self.bpy)
        error, ran, refused = self.run(predicted)
        self.dirty = self.dirty or ran
        changed = error is None and scene_fingerprint(self.bpy) != before
        if error is None and not changed and predicted.get("edit", True) and not polled_only(predicted.get("kind")):
            error = "the scene did not change"
        return {"valid": error is None, "error": error, "changed": changed, "refused": refused}


def serve(bpy, requests, answers, scratch: str | None = None) -> None:
    """Answer each request line of ``requests`` with one line on ``answers``; scene files go in
    ``scratch`` (the parent's folder, which it removes even when it has to kill this process), else
    in a temporary folder of this process's own."""
    if scratch is None:
        with tempfile.TemporaryDirectory(prefix="nep-replay-") as own:
            serve(bpy, requests, answers, own)
        return
    replayer = Replayer(bpy, scratch)
    for line in requests:
        request = json.loads(line)
        try:
            replayed, replay_errors = replayer.replay(request["history"], request.get("reuse", True), request.get("start", "empty"))
            answer = replayer.try_call(request["predicted"])
            answer.update(replayed=replayed, replay_errors=replay_errors)
        except Exception as error:  # a broken scene file, a failing reset: answer, then start afresh
            replayer.history = None
            answer = {"valid": False, "error": f"replay failed: {type(error).__name__}: {first_line(error)}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def limit_memory(limit_bytes: int) -> None:
    """Cap this process's address space: a call that asks for a 10,000 x 10,000 grid then fails (the
    worker is restarted) instead of taking the machine's memory."""
    import resource

    if limit_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def main() -> None:
    answers = os.fdopen(int(os.environ["NEP_REPLAY_FD"]), "w", encoding="utf-8")
    os.dup2(2, 1)  # bpy's own output goes to stderr
    limit_memory(int(os.environ.get("NEP_REPLAY_MEMORY_BYTES", "0")))
    import bpy

    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    serve(bpy, sys.stdin, answers, os.environ.get("NEP_REPLAY_SCRATCH"))


if __name__ == "__main__":
    main()

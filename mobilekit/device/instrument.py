"""Reading an `am instrument -w -r` transcript: status bundles as they stream, the final result
bundle and code, and the ways a run ends badly (crash, FAILED, ABORTED). The adb exit status
proves nothing; only the transcript says whether the run finished."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

STATUS = "INSTRUMENTATION_STATUS: "
STATUS_CODE = "INSTRUMENTATION_STATUS_CODE: "
RESULT = "INSTRUMENTATION_RESULT: "
CODE = "INSTRUMENTATION_CODE: "
FAILED = "INSTRUMENTATION_FAILED: "
ABORTED = "INSTRUMENTATION_ABORTED: "
RESULT_OK = -1          # Activity.RESULT_OK
CRASH_MESSAGE = "Process crashed."


@dataclass
class StatusBundle:
    values: dict[str, str]
    code: int | None


@dataclass
class InstrumentResult:
    statuses: list[StatusBundle] = field(default_factory=list)
    result: dict[str, str] = field(default_factory=dict)
    code: int | None = None
    failed: str | None = None     # the component after INSTRUMENTATION_FAILED
    aborted: str | None = None    # the text after INSTRUMENTATION_ABORTED
    other_lines: list[str] = field(default_factory=list)

    @property
    def crashed(self) -> bool:
        return self.result.get("shortMsg", "").strip() == CRASH_MESSAGE

    @property
    def finished(self) -> bool:
        """The instrumentation ran to its end and said RESULT_OK."""
        return self.code == RESULT_OK and not (self.crashed or self.failed or self.aborted)

    def error_message(self) -> str | None:
        """Why the run did not finish, in one line; None when it did."""
        if self.failed is not None:
            detail = next((s.values["Error"] for s in self.statuses if "Error" in s.values), "")
            return f"instrumentation {self.failed} failed to start" + (f": {detail}" if detail else "")
        if self.aborted is not None:
            return f"instrumentation aborted: {self.aborted}".rstrip(": ")
        if self.crashed:
            long_msg = self.result.get("longMsg", "").strip()
            return "the app's process crashed" + (f": {long_msg}" if long_msg else "")
        if self.code is None:
            return "the transcript ended before INSTRUMENTATION_CODE (connection lost or the app was killed)"
        if self.code != RESULT_OK:
            detail = self.result.get("error") or self.result.get("shortMsg") or self.result.get("longMsg")
            return f"instrumentation finished with code {self.code}" + (f": {detail.strip()}" if detail else "")
        return None


class InstrumentParser:
    """Feed text as it arrives; ``on_status`` gets each status bundle when its code line closes it."""

    def __init__(self, on_status: Callable[[StatusBundle], None] | None = None):
        self.on_status = on_status
        self.outcome = InstrumentResult()
        self._partial = ""
        self._bundle: dict[str, str] = {}
        self._last: tuple[dict, str] | None = None   # (bundle, key) a continuation line extends

    def feed(self, text: str) -> None:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._line(line.rstrip("\r"))

    def finish(self) -> InstrumentResult:
        if self._partial:
            self._line(self._partial.rstrip("\r"))
            self._partial = ""
        if self._bundle:
            # a bundle the app never closed (killed mid-status): keep what it said
            self.outcome.statuses.append(StatusBundle(self._bundle, None))
            self._bundle = {}
        return self.outcome

    def _line(self, line: str) -> None:
        outcome = self.outcome
        if line.startswith(STATUS):
            key, _, value = line[len(STATUS):].partition("=")
            self._bundle[key] = value
            self._last = (self._bundle, key)
        elif line.startswith(STATUS_CODE):
            bundle = StatusBundle(self._bundle, _int(line[len(STATUS_CODE):]))
            outcome.statuses.append(bundle)
            self._bundle = {}
            self._last = None
            if self.on_status:
                self.on_status(bundle)
        elif line.startswith(RESULT):
            key, _, value = line[len(RESULT):].partition("=")
            outcome.result[key] = value
            self._last = (outcome.result, key)
        elif line.startswith(CODE):
            outcome.code = _int(line[len(CODE):])
            self._last = None
        elif FAILED in line:
            outcome.failed = line.split(FAILED, 1)[1].strip()
            self._last = None
        elif ABORTED.rstrip() in line:
            outcome.aborted = line.split(ABORTED.rstrip(), 1)[1].strip()
            self._last = None
        elif self._last is not None:
            bundle, key = self._last
            bundle[key] += "\n" + line
        elif line.strip():
            outcome.other_lines.append(line)


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def parse_transcript(text: str) -> InstrumentResult:
    parser = InstrumentParser()
    parser.feed(text)
    return parser.finish()

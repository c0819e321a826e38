"""Named errors: every broken rule has a name and a message a person can act on."""
from __future__ import annotations


class ExqError(Exception):
    """Base of every error exq raises on purpose. `str(err)` is fit to show to a user."""


class GuardrailError(ExqError):
    """A decision refused by the workflow; nothing was written."""


class NotPermitted(GuardrailError):
    pass


class StaleCase(GuardrailError):
    def __init__(self, case_id: int, expected: int, actual: int):
        self.case_id, self.expected, self.actual = case_id, expected, actual
        super().__init__(
            f"Case {case_id} changed since you opened it (you saw version {expected}, it is now "
            f"version {actual}). Reload the case, check what changed, and decide again.")


class TransitionNotAllowed(GuardrailError):
    pass


class EvidenceRequired(GuardrailError):
    pass


class ReasonNotAllowed(GuardrailError):
    pass


class NoteRequired(GuardrailError):
    pass


class ActionNotAllowed(GuardrailError):
    pass


class ActionRequired(GuardrailError):
    """A decision saved without choosing an action (nothing is ever accepted by default)."""


class FollowUpRequired(GuardrailError):
    pass


class CaseClaimed(GuardrailError):
    def __init__(self, case_id: int, holder: str, until):
        self.case_id, self.holder, self.until = case_id, holder, until
        super().__init__(f"Case {case_id} is claimed by {holder} until {until:%Y-%m-%d %H:%M} UTC.")


class CaseNotFound(ExqError):
    def __init__(self, case_id):
        self.case_id = case_id
        super().__init__(f"There is no case {case_id}.")


class DatabaseLocked(ExqError):
    """The DuckDB file is held by another process (normally the running dashboard)."""

    def __init__(self, path, holder: str):
        self.path, self.holder = str(path), holder
        super().__init__(
            f"The database {self.path} is in use by {holder}. DuckDB lets one process own the file. "
            f"Stop that process first, or use --db to work on another file; to import while the "
            f"dashboard runs, drop the file into data/inbox/ and the dashboard imports it within a minute.")


class SchemaTooNew(ExqError):
    pass


class RulesFileError(ExqError):
    pass


class FeedError(ExqError):
    """A feed file that cannot be read at all (wrong format, encoding, missing columns, empty)."""


class FeedInvalid(ExqError):
    """A feed whose rows failed validation; carries the report. Nothing was written."""

    def __init__(self, report):
        self.report = report
        super().__init__(report.summary())

"""Named read queries: every number the dashboard and the CLI show, computed in the database.

Each function takes a cursor (`store.read()`), and where it matters the active rules and `now`, and
returns plain Python or a small DataFrame of already-aggregated rows. Pages and commands call the same
functions; the SQL is written once, in what DuckDB and PostgreSQL both run.

    overview   KPIs, bucket × state, backlog age, breaches, opened vs resolved (`stats --json`)
    queue      the escalate-first queue, its filter, claim-next's pick, saved views
    cases      one case for the workflow and the Review page, its history
    insights   AI acceptance per source, overrides, reasons, time to resolution, throughput, the decision log
    imports    the import log and the rejected rows
    suggestions  stored AI suggestions
"""
from .cases import CASE_COLUMNS, case_detail, history, load_case
from .overview import (aging, any_case, breaches_by_bucket, by_bucket_state, data_stamp, kpis, last_import,
                       opened_resolved_per_day, overview, stats)
from .queue import (QUEUE_COLUMNS, UNASSIGNED, QueueFilter, SavedView, assignees, cases_by_id, get_view,
                    list_views, next_unclaimed, queue_page, queue_view, queue_where)

__all__ = ["CASE_COLUMNS", "QUEUE_COLUMNS", "UNASSIGNED", "QueueFilter", "SavedView", "aging", "any_case",
           "assignees", "breaches_by_bucket", "by_bucket_state", "case_detail", "cases_by_id", "data_stamp",
           "get_view", "history", "kpis", "last_import", "list_views", "load_case", "next_unclaimed",
           "opened_resolved_per_day", "overview", "queue_page", "queue_view", "queue_where", "stats"]

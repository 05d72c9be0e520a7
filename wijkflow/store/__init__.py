"""All SQL lives here, by concept; functions take an open connection and the caller owns the transaction.

SQLAlchemy Core over the tables models.py declares. fastpath.py alone runs plain SQL strings, for the
statements every lifecycle step runs (it says why). `from wijkflow import store; store.find_aanpak(...)`:
the concept modules' public functions are all here.
"""

from __future__ import annotations

from .aanpak import (
    LoadedAanpak,
    aanpak_version,
    add_role,
    change_phase,
    count_aanpakken,
    deadlines,
    find_aanpak,
    find_aanpak_with_person,
    gemeente_exists,
    insert_aanpak,
    insert_record,
    list_aanpakken,
    load_aanpak,
    move_to_definition,
    records,
    roles,
    set_deadline,
    slug_taken,
    stream_aanpakken,
    touch_aanpak,
    wijk_exists,
)
from .areas import aanpak_ids_for_codes, all_area_codes, area_codes, set_area_codes
from .audit import (
    EXPORT_COLUMNS,
    append_event,
    chain_head,
    count_events,
    count_matching,
    event_id_by_hash,
    event_types,
    events,
    events_until,
    export_batches,
    phase_events,
    query_events,
    stream_chain,
)
from .common import STREAM_BATCH, Row
from .definitions import definition, definition_id_by_version, pin_definition, stored_definitions
from .indicators import (
    indicator,
    indicator_facts,
    indicators,
    insert_indicator,
    insert_measurement,
    measurement_exists,
    measurements,
    update_indicator,
)
from .outbox import (
    cancel_reminders,
    claim_messages,
    claim_reminders,
    claimable_messages,
    due_reminders,
    finish_message,
    held_claims,
    insert_message,
    insert_reminder,
    lock_due_reminders,
    message_rows,
    next_wake,
    overdue_reminders,
    pending_reminders,
    reminder_overview,
    renew_claims,
    settle_reminder,
)
from .people import (
    all_people,
    any_admin,
    checkpoint,
    erase_person,
    insert_person,
    list_people,
    people_by_id,
    person_by_email,
    secure_delete,
)
from .programme import (
    aanpak_ids_with_theme,
    activities,
    activity,
    insert_activity,
    insert_intended_result,
    insert_interpretation,
    insert_party_approval,
    insert_plan_partner,
    insert_plan_point,
    insert_theme,
    interpretations,
    party_approvals,
    plan_partners,
    plan_points,
    theme,
    themes,
    themes_by_aanpak,
    update_activity,
)

__all__ = [
    "EXPORT_COLUMNS", "LoadedAanpak", "Row", "STREAM_BATCH", "aanpak_ids_with_theme", "aanpak_version",
    "activities", "activity", "add_role", "all_people", "any_admin", "append_event", "cancel_reminders",
    "chain_head", "change_phase", "checkpoint", "claim_messages", "claim_reminders", "claimable_messages",
    "count_aanpakken", "count_events", "count_matching", "deadlines", "definition", "definition_id_by_version",
    "due_reminders", "erase_person", "event_id_by_hash", "event_types", "events", "events_until", "export_batches",
    "find_aanpak", "find_aanpak_with_person", "finish_message", "gemeente_exists", "held_claims", "indicator",
    "indicator_facts", "indicators", "insert_aanpak", "insert_activity", "insert_indicator",
    "insert_intended_result", "insert_interpretation", "insert_measurement", "insert_message",
    "insert_party_approval", "insert_person", "insert_plan_partner", "insert_plan_point", "insert_record",
    "insert_reminder", "insert_theme", "interpretations", "list_aanpakken", "list_people", "load_aanpak",
    "lock_due_reminders", "measurements", "message_rows", "move_to_definition", "next_wake", "overdue_reminders",
    "party_approvals", "pending_reminders", "people_by_id", "person_by_email", "phase_events", "pin_definition",
    "plan_partners", "plan_points", "query_events", "records", "reminder_overview", "renew_claims", "roles",
    "secure_delete", "set_deadline", "settle_reminder", "slug_taken", "stored_definitions", "stream_aanpakken",
    "stream_chain", "theme", "themes", "themes_by_aanpak", "touch_aanpak", "update_activity", "update_indicator",
    "wijk_exists",
    # issue 16: CBS area codes
    "aanpak_ids_for_codes", "all_area_codes", "area_codes", "measurement_exists", "set_area_codes",
]

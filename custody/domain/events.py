"""custody's event vocabulary: one name for each thing that happens, written by the use cases (into KV records,
logs and notifications) and read back by the audit summary from Vault's audit log.

The values are part of the audit contract: records already in Vault carry them, so a value never changes; a new
event gets a new member.
"""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    # accounts
    account_created = "account.created"
    account_name_claimed = "account.name_claimed"  # the case-folded name taken, just before the account is written
    account_updated = "account.updated"
    # code sets
    codes_deposited = "codes.deposited"
    codes_replaced = "codes.replaced"
    codes_rotated = "codes.rotated"
    code_consumed = "code.consumed"
    code_wrapped = "code.wrapped"
    code_staged_left = "code.staged_left"  # a wrapped code's staged copy could not be deleted (dies with the token)
    # grants
    grant_requested = "grant.requested"
    grant_emergency = "grant.emergency"  # a notification: an emergency grant was requested (approved at once)
    grant_approved = "grant.approved"
    grant_denied = "grant.denied"
    grant_reviewed = "grant.reviewed"
    grant_revealing = "grant.revealing"  # the reveal's claim: the grant is taken, its code not yet recorded
    grant_revealed = "grant.revealed"
    grant_reveal_failed = "grant.reveal_failed"  # a claim undone: no code could be handed out
    grant_reveal_resumed = "grant.reveal_resumed"
    grant_expired = "grant.expired"
    grant_revoked = "grant.revoked"
    grants_revoked = "grants.revoked"  # a notification: many grants revoked at once (the count, the first ids)
    grant_admitted = "grant.admitted"  # what a requester holds, updated as one of their grants is admitted
    grant_indexed = "grant.indexed"  # a grant's entry in the index of its requester's or its account's grants
    grants_indexed = "grants.indexed"  # every grant older than this is in the index
    # rotation
    rotation_started = "rotation.started"
    rotation_completed = "rotation.completed"
    rotation_again = "rotation.again"
    rotation_due = "rotation.due"
    rotation_overdue = "rotation.overdue"
    rotation_sweep = "rotation.sweep"
    rotation_marked = "rotation.marked"  # a reason to rotate that the set cannot show (leaked code, person left)
    # the WebAuthn key roster
    key_added = "key.added"
    key_removed = "key.removed"
    key_verified = "key.verified"
    key_reassigned = "key.reassigned"
    key_custodian_left = "key.custodian_left"
    keys_checked = "keys.checked"
    evidence_built = "evidence.built"
    # enrolment waves
    wave_added = "wave.added"
    # recovery drills
    drill_started = "drill.started"
    drill_step = "drill.step"  # someone acted in a drill (a grant naming it was requested, approved, revealed...)
    drill_finished = "drill.finished"
    # people
    person_offboarded = "person.offboarded"
    # leaked codes
    code_identified = "code.identified"
    code_burned = "code.burned"
    codes_prints_rebuilt = "codes.prints_rebuilt"  # the keyed fingerprints kept beside a code set
    codes_print_key_created = "codes.print_key_created"
    # authorization
    access_denied = "access.denied"
    # the service's own trouble, in its log only (never in KV, never notified)
    access_denied_unrecorded = "access.denied.unrecorded"  # a refusal that could not be written to KV
    codes_summary_unwritable = "codes.summary.unwritable"  # the sweep's summary of a code set could not be kept
    codes_prints_unwritable = "codes.prints.unwritable"  # a set's keyed fingerprints could not be rebuilt
    drill_step_unrecorded = "drill.step.unrecorded"  # a drill grant's step could not be added to its drill
    person_email_unreadable = "person.email.unreadable"  # Vault would not say a caller's entity's email

# TEMPORARY shim: the lead rewrites importers and deletes this file after the merge.
"""The old home of the voting services, re-exporting their new modules by name."""

from __future__ import annotations

from hearing_server.voting.ballots import MAX_OPINION as MAX_OPINION
from hearing_server.voting.ballots import RECEIPT_VERSION as RECEIPT_VERSION
from hearing_server.voting.ballots import THROTTLE_KEEP as THROTTLE_KEEP
from hearing_server.voting.ballots import THROTTLE_WINDOW as THROTTLE_WINDOW
from hearing_server.voting.ballots import VOTE_ATTEMPTS_PER_MINUTE as VOTE_ATTEMPTS_PER_MINUTE
from hearing_server.voting.ballots import CastResult as CastResult
from hearing_server.voting.ballots import ReceiptCheck as ReceiptCheck
from hearing_server.voting.ballots import check_receipt as check_receipt
from hearing_server.voting.ballots import do_cast_ballot as do_cast_ballot
from hearing_server.voting.ballots import make_receipt as make_receipt
from hearing_server.voting.motions import MAX_REASON as MAX_REASON
from hearing_server.voting.motions import MAX_TEXT as MAX_TEXT
from hearing_server.voting.motions import RESOLVED as RESOLVED
from hearing_server.voting.motions import count_motion as count_motion
from hearing_server.voting.motions import do_close_motion as do_close_motion
from hearing_server.voting.motions import do_declare_recusal as do_declare_recusal
from hearing_server.voting.motions import do_open_motion as do_open_motion
from hearing_server.voting.queries import ballots_of as ballots_of
from hearing_server.voting.queries import claims_to_vote_on as claims_to_vote_on
from hearing_server.voting.queries import eligible_ids as eligible_ids
from hearing_server.voting.queries import list_motions as list_motions
from hearing_server.voting.queries import motion_view as motion_view
from hearing_server.voting.queries import open_motions_for_member as open_motions_for_member
from hearing_server.voting.queries import present_member_ids as present_member_ids
from hearing_server.voting.queries import recused_member_ids as recused_member_ids
from hearing_server.voting.queries import require_motion_for as require_motion_for
from hearing_server.voting.rules_versions import current_rules_version as current_rules_version
from hearing_server.voting.rules_versions import do_publish_rules as do_publish_rules
from hearing_server.voting.rules_versions import list_rules_versions as list_rules_versions

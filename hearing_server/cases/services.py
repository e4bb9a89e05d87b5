# TEMPORARY shim: the lead rewrites importers and deletes this file after the merge.
"""The names importers outside hearing_server/cases still take from here; each now
lives in the module named beside it."""

from hearing_server.cases.filing import do_file as do_file
from hearing_server.cases.numbers import do_take_case_number as do_take_case_number
from hearing_server.cases.numbers import do_take_tracking_code as do_take_tracking_code
from hearing_server.cases.numbers import format_tracking_code as format_tracking_code
from hearing_server.cases.petition import ClaimInput as ClaimInput
from hearing_server.cases.petition import PetitionInput as PetitionInput
from hearing_server.cases.presentation import CLAIM_LABELS as CLAIM_LABELS
from hearing_server.cases.search import CaseFilter as CaseFilter
from hearing_server.cases.search import do_index_search_terms as do_index_search_terms
from hearing_server.cases.search import name_terms as _name_terms
from hearing_server.cases.search import search_cases as search_cases
from hearing_server.cases.workflow import do_transition as do_transition

__all__ = [
    "CLAIM_LABELS",
    "CaseFilter",
    "ClaimInput",
    "PetitionInput",
    "_name_terms",
    "do_file",
    "do_index_search_terms",
    "do_take_case_number",
    "do_take_tracking_code",
    "do_transition",
    "format_tracking_code",
    "search_cases",
]

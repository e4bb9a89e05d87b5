"""Msgids in use that ``pybabel extract`` cannot see where they are used, marked here.

Each entry is written at its use site as a plain string (a form error in a dict, a label
table, a keyword argument) or is built at run time (an enum value passed to ``_()``), so
only this list keeps it in the template: without it ``make messages-update`` would retire a
translation the app still shows. Nothing imports this module.

To shrink the list, mark the msgid where it is used — wrapped in ``lazy`` in a table or dict,
one ``gettext`` call per branch of a conditional, a label dict for enum values — and delete
it here; tests/test_i18n.py fails when a catalogue entry is marked nowhere.
"""

from __future__ import annotations

from hearing_server.i18n import lazy

# Form errors held as (msgid, params) in ValidationErrors / `problems` dicts.
FORM_ERRORS = (
    # accounts/services.py
    lazy("A user with this national ID already exists."),
    lazy("A username uses only letters, digits, dot, dash and underscore."),
    lazy("Enter the full name."),
    lazy("The email address is not valid."),
    lazy("This username is taken."),
    # accounts/services.py and cases/services.py
    lazy("The mobile number is not valid, e.g. 09121234567."),
    lazy("The national ID is not valid: it must be 10 digits with a correct check digit."),
    # cases/services.py
    lazy("Choose a board from the list."),
    lazy("Choose at least one claim."),
    lazy("Choose the claims from the list."),
    lazy("Enter the employer's name."),
    lazy("Enter the employer's national ID or the workshop's registration number."),
    lazy("Enter the last monthly wage, in rials."),
    lazy("Enter the worker's full name."),
    lazy("Enter the worker's mobile number."),
    lazy("Enter the worker's national ID."),
    lazy("Enter the workshop's address."),
    lazy("Enter when the employment started."),
    lazy("The end of employment is before its start."),
    lazy("Your account has no national ID. Ask the labour office to add it."),
    # voting/services.py
    lazy("An amount must be above zero."),
    lazy("Choose a claim of this case."),
    lazy("Choose what the motion proposes."),
    lazy("Enter the text of the motion."),
    lazy("For a partial award enter an amount in rials above zero and below the claim."),
    # scheduling/services.py
    lazy("A case can be on the agenda only once."),
    lazy("A case needs at least {minutes} minutes."),
    lazy("A hearing must be scheduled in the future."),
    lazy("A seat can be filled only once."),
    lazy("A session lasts between {low} and {high} minutes."),
    lazy("At most {count} cases fit on one agenda."),
    lazy("Case {number} belongs to another board."),
    lazy("Put at least one case on the agenda."),
    lazy("Seat {seat} is not a seat of this board."),
    lazy("Sessions are held between {start} and {end} Tehran time."),
    lazy("The agenda's time slots do not fit in the session of {minutes} minutes."),
    lazy("The chair must sit: fill the chair's seat ({group})."),
    lazy(
        "The panel cannot reach quorum: {filled} of {seats} seats are filled and {quorum} members must be present."  # noqa: E501  # one-line msgid for scripts/po.py
    ),
    lazy("The rules allow {seats} {group} seats; {count} were filled."),
    lazy("This person is not an active board member."),
    lazy("{day} is a Friday: the board does not sit on Fridays."),
    lazy("{day} is an official holiday ({name})."),
    lazy("{day} is not a working day of the board."),
    lazy("{group} seats: {count} of {seats} filled."),
    lazy("{name} can hold only one seat on a panel."),
    lazy("{name} does not hold this {group} seat on {day}."),
)

# Plain strings in tables and constants, translated where they are shown.
LABELS = (
    # scheduling/services.py LABELS and GROUP_LABELS
    lazy("Scheduled"),
    lazy("In progress"),
    lazy("Held"),
    lazy("Failed for lack of quorum"),
    lazy("Missed (not opened)"),
    lazy("Postponed"),
    lazy("Cancelled"),
    lazy("No answer yet"),
    lazy("Attending"),
    lazy("Not attending"),
    lazy("Government representative"),
    lazy("Workers' representative"),
    lazy("Employers' representative"),
    lazy("Board member"),
    lazy("government"),
    lazy("worker"),
    lazy("employer"),
    # scheduling/calendar.py WEEKDAY_NAMES_EN and MONTH_NAMES_EN
    lazy("Saturday"),
    lazy("Sunday"),
    lazy("Monday"),
    lazy("Tuesday"),
    lazy("Wednesday"),
    lazy("Thursday"),
    lazy("Friday"),
    lazy("Farvardin"),
    lazy("Ordibehesht"),
    lazy("Khordad"),
    lazy("Tir"),
    lazy("Mordad"),
    lazy("Shahrivar"),
    lazy("Mehr"),
    lazy("Aban"),
    lazy("Azar"),
    lazy("Dey"),
    lazy("Bahman"),
    lazy("Esfand"),
    # web/errors.py HTTP_MESSAGES
    lazy("The page was not found."),
    lazy("This action is not allowed here."),
    lazy("This file type is not accepted."),
    # accounts/security.py: the password checks return their msgid
    lazy("The password is too repetitive."),
    lazy("The password must be at least 10 characters long."),
    lazy("The password must not be only digits."),
    lazy("The password must not contain your username."),
    # issuance/services.py: verification verdicts and the issue failure
    lazy("No ruling or minutes has this verification code."),
    lazy("The file's fingerprint matches no ruling or minutes issued here."),
    lazy("The signature is missing, broken, or not made with this installation's certificate."),
    lazy("This ruling has not been issued."),
    lazy("This ruling was replaced by a later ruling of the same case."),
    lazy("The ruling could not be issued."),
    lazy("The ruling this anonymised copy was made from is no longer final."),
    # issuance/api.py parse_filter: the public search's refusals
    lazy("Choose a claim type from the list."),
    lazy("Choose an outcome from the list."),
    # app.py: nav.add(endpoint, label, ...)
    lazy("Hearings"),
)

# Chosen by a conditional or passed as a keyword argument.
CHOSEN = (
    # scheduling/services.py: _tell_everyone(..., subject=...)
    lazy("The hearing on {when} is cancelled"),
    lazy("The hearing on {when} is postponed"),
)

# Enum values translated as msgids at run time.
VALUES = (
    # LazyText(case.status.value) in scheduling and issuance
    lazy("in_hearing"),
    lazy("ruling_issued"),
    # _(role.value | capitalize) in templates/accounts
    lazy("Clerk"),
    lazy("Party"),
    # _(ruling.state.value), _(verdict.state), _(verdict.kind) in templates/issuance
    lazy("issued"),
    lazy("signed"),
    lazy("superseded"),
    lazy("minutes"),
    lazy("ruling"),
    # _(claim.decision.value) in templates/issuance/detail.html
    lazy("rejected"),
    lazy("partly_accepted"),
    lazy("no_majority"),
    # _(ballot.choice) in templates/voting/vote.html
    lazy("for"),
    lazy("against"),
    lazy("abstain"),
)

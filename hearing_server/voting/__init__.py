"""Remote voting: motions, OTP-verified named ballots, receipts, recusals, the close and its
tally, and the board rules versions an admin publishes.

``access`` who may see and run a hearing's votes; ``queries`` reading motions and who is
present, recused or has voted; ``motions`` opening, closing, deciding the case, recusal
(and the lock order every writer on a motion keeps); ``ballots`` casting and receipts;
``rules_versions`` the published board rules; ``room_events`` what a vote tells the room.
The statute itself (board types, seats, rules, tally) is :mod:`hearing_server.law.rules`.
"""

"""The statute as data: board types, seat groups, rules, quorum and tally (DESIGN.md §3).

The bottom layer of the parts: it imports nothing of Heyat but text helpers, so models
and every part may build on it.
"""

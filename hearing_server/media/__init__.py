"""Audio and video in the hearing room: a Janus VideoRoom per hearing, coturn for TURN.

Heyat controls Janus over its HTTP API with the API secret (:mod:`.janus`), which never
reaches a browser; browsers get short-lived signed tokens and TURN credentials
(:mod:`.tokens`) only when the room admits them (:mod:`.service`). ``heyat serve`` renders
the servers' configs into ``var/media/`` and supervises them (:mod:`.supervisor`).
The hearing of the parties is recorded only with everyone's consent (:mod:`.recording`),
into one file stored as the cases' document (:mod:`.recording_files`).
"""

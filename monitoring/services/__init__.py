"""Every state change and multi-step operation of monitoring:

- ``checks``: create, update and test checks (parameters validated per kind);
- ``engine``: the dispatcher's claim, the batches, results written in bulk, the state machine;
- ``heartbeats``: pings of heartbeat checks;
- ``alerts``: alerts by fingerprint, their incidents, suppression and recovery;
- ``maintenance``: maintenance windows, and incidents for failures that outlast them;
- ``ingest``, ``integrations``, ``metrics``: inbound alerts, events and metrics;
- ``retention``: hourly rollups and pruning.
"""

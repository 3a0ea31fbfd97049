"""Realtime delivery: the broker between processes and the hub of this process's sockets."""

"""The rules of the service, written once and called by REST and WebSocket handlers alike."""

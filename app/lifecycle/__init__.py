"""Process lifecycle: draining on SIGTERM."""

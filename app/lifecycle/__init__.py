"""Process lifecycle: draining on SIGTERM, and the loaded heap left out of full collections."""

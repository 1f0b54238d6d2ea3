"""Helpers shared by every stack: settings base and errors, IAM, KMS, logs, alarms, outputs."""

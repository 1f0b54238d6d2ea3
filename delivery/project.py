"""The project's name, from which delivery derives its own: one home for it on this side.

It is the default ``project_code`` (Sceptre's stack-name prefix, config/config.yaml), the local
image's name and the prefix of the state this machine keeps. The stacks' side has its own,
``stacks.common.naming.PROJECT``; a test holds the two and config/config.yaml equal.
"""

from __future__ import annotations

NAME = "flask-fargate"

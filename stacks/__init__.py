"""troposphere stacks: one module per CloudFormation stack, each ``Settings`` + ``build()``.

Every stack module exposes ``STACK`` (its name), a pydantic ``Settings`` model that validates what
Sceptre passes as ``sceptre_user_data``, and ``build(settings) -> troposphere.Template``.
Nothing here knows of Sceptre, invoke or boto3; ``templates/`` adapts Sceptre to these functions.
"""

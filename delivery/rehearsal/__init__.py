"""The pipeline rehearsal: the CodePipeline of ``stacks/pipeline`` run offline, on the emulator.

``invoke pipeline --env local`` reads the rendered pipeline template and runs its stages in order:
each CodeBuild action in a fresh workspace, with the variables, shell, tools and IAM role
CodeBuild would give it, against the local emulator standing in for the account.
"""

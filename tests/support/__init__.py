"""Helpers shared by the tests, one module per job; conftest files hold only fixtures and hooks.

- ``paths``: where the repository is;
- ``project``: a small Sceptre project in the shape of config/ (``make_project``);
- ``git``: git in a test's own repository;
- ``cli``: the ``invoke`` command line run as a user runs it;
- ``deploy_steps``: deploy steps that build and scan nothing (``fake_steps``);
- ``fake_engine``: a container engine on a scripted command runner (``FakeRunner``);
- ``registry_images``: images as a registry holds them, and a podman pushing to the emulator;
- ``rootfs``: root filesystem exports as tar files;
- ``ecs_responses``: ECS API answers during a deployment, for botocore's Stubber;
- ``pipeline_template``: the pipeline stack's template and its launched names;
- ``cfn``: queries over rendered CloudFormation templates;
- ``metric_math``: CloudWatch metric math, evaluated;
- ``iam``: recording AWS calls and judging them as IAM would;
- ``gunicorn``: the real service under the production gunicorn command;
- ``service_contract``: what every response and access line of the service carries;
- ``fuzz_tally``: the count of generated API cases of a fuzz session;
- ``service_image``: the image under test and containers run as Fargate runs them;
- ``container_tools``: what the container tests need, and failing when it is missing;
- ``switches``: the operator's switches a surrounding build may set.
"""

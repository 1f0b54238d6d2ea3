"""The rendered ECR lifecycle policy, run through ECR's documented evaluation rules.

Amazon ECR user guide, "Lifecycle policy evaluation rules": rules apply in priority order; an
image is expired by at most one rule; an image matching a rule's tag selection cannot be expired
by a lower-priority rule, but lower-priority rules still count it; ``imageCountMoreThan`` keeps
the newest N of what a rule selects; a ``tagPatternList`` selects an image when every pattern
matches one of its tags (``*`` is the only wildcard).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from delivery.versioning import image_tags
from stacks import registry
from tests.support.cfn import Template, one

Rendered = dict[str, dict[str, Template]]
DAY = 86_400


@dataclass(frozen=True)
class Image:
    tags: tuple[str, ...]
    pushed_days_ago: float


def _matches(pattern: str, tag: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), tag) is not None


def _selects(selection: dict[str, Any], image: Image) -> bool:
    status = selection["tagStatus"]
    if status == "any":
        return True
    if status == "untagged":
        return not image.tags
    patterns = selection["tagPatternList"]
    return bool(image.tags) and all(any(_matches(p, t) for t in image.tags) for p in patterns)


def expired_by(policy: dict[str, Any], images: list[Image]) -> set[Image]:
    """What ECR would expire: a model of its documented evaluation rules."""
    expired: set[Image] = set()
    shielded: set[Image] = set()  # matched by a higher-priority rule's tag selection
    for rule in sorted(policy["rules"], key=lambda r: r["rulePriority"]):
        selection = rule["selection"]
        # Counted even when a higher rule expired or shields them.
        selected = [image for image in images if _selects(selection, image)]
        if selection["countType"] == "imageCountMoreThan":
            newest_first = sorted(selected, key=lambda i: i.pushed_days_ago)
            candidates = newest_first[selection["countNumber"] :]
        else:
            candidates = [i for i in selected if i.pushed_days_ago > selection["countNumber"]]
        expired |= {i for i in candidates if i not in shielded}
        shielded |= set(selected)
    return expired


def _sha(n: int) -> str:
    return f"{n:012x}"


def release(version: str, days_ago: float, n: int) -> Image:
    return Image(tuple(image_tags(version, _sha(n))), days_ago)


def dev_build(n: int, days_ago: float) -> Image:
    sha = _sha(10_000 + n)
    return Image(tuple(image_tags(f"1.5.0-dev.g{sha}", sha)), days_ago)


def policy_of(rendered: Rendered, env: str) -> dict[str, Any]:
    repository = one(rendered[env]["registry"], "AWS::ECR::Repository")
    policy = json.loads(repository["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"])
    assert isinstance(policy, dict)
    return policy


def _history() -> tuple[list[Image], list[Image]]:
    """Five releases over a year, then 400 dev builds (many pushes to main, no release)."""
    releases = [release(f"1.{i}.0", 360 - 60 * i, i) for i in range(5)]
    devs = [dev_build(n, 100 - n / 4) for n in range(400)]
    return releases, devs


@pytest.mark.parametrize("env", ["shared", "local"])
def test_dev_builds_never_push_releases_out(rendered: Rendered, env: str) -> None:
    policy = policy_of(rendered, env)
    releases, devs = _history()
    expired = expired_by(policy, [*releases, *devs])
    assert not expired & set(releases), "a release expired because dev builds were pushed"
    keep = next(r for r in policy["rules"] if r["selection"].get("tagPatternList") == ["*-dev.*"])
    kept_devs = [d for d in devs if d not in expired]
    assert len(kept_devs) == keep["selection"]["countNumber"]
    newest = sorted(devs, key=lambda i: i.pushed_days_ago)[: len(kept_devs)]
    assert set(kept_devs) == set(newest)


def test_dev_rule_outranks_the_release_rule_and_selects_no_release(rendered: Rendered) -> None:
    rules = sorted(policy_of(rendered, "shared")["rules"], key=lambda r: r["rulePriority"])
    patterns = [r["selection"].get("tagPatternList") for r in rules]
    assert patterns.index([registry.DEV_BUILD_PATTERN]) < patterns.index([registry.RELEASE_PATTERN])
    assert rules[-1]["selection"]["tagStatus"] == "any"
    dev_rule = rules[patterns.index([registry.DEV_BUILD_PATTERN])]["selection"]
    release_rule = rules[patterns.index([registry.RELEASE_PATTERN])]["selection"]
    assert not _selects(dev_rule, release("1.2.3", 1, 1))
    assert _selects(dev_rule, dev_build(1, 1))
    # *.*.* selects dev builds too: so the release rule must not count (see registry.py).
    assert _selects(release_rule, dev_build(1, 1))
    assert release_rule["countType"] == "sinceImagePushed"


def test_releases_expire_only_by_their_own_age(rendered: Rendered) -> None:
    policy = policy_of(rendered, "shared")
    days = next(
        r["selection"]["countNumber"]
        for r in policy["rules"]
        if r["selection"].get("tagPatternList") == [registry.RELEASE_PATTERN]
    )
    old, recent = release("0.1.0", days + 1, 1), release("0.2.0", days - 1, 2)
    assert expired_by(policy, [old, recent]) == {old}
    untagged = Image((), 30)
    assert untagged in expired_by(policy, [untagged, recent])


def test_the_model_reproduces_the_bug_of_a_release_count_rule() -> None:
    """The replaced policy (keep the last 50 ``*.*.*``): 400 dev builds expire every release."""
    old = {
        "rules": [
            {"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType":
             "sinceImagePushed", "countUnit": "days", "countNumber": 7}},
            {"rulePriority": 2, "selection": {"tagStatus": "tagged", "tagPatternList": ["*.*.*"],
             "countType": "imageCountMoreThan", "countNumber": 50}},
        ]
    }  # fmt: skip
    releases, devs = _history()
    assert set(releases) <= expired_by(old, [*releases, *devs])
    # A dev rule of higher priority alone does not help: the release rule still counts devs.
    with_dev_rule = {
        "rules": [
            *old["rules"][:1],
            {"rulePriority": 2, "selection": {"tagStatus": "tagged", "tagPatternList":
             ["*-dev.*"], "countType": "imageCountMoreThan", "countNumber": 100}},
            {**old["rules"][1], "rulePriority": 3},
        ]
    }  # fmt: skip
    assert set(releases) <= expired_by(with_dev_rule, [*releases, *devs])


def test_a_release_promoted_from_a_dev_build_outlives_newer_dev_builds(
    rendered: Rendered,
) -> None:
    policy = policy_of(rendered, "shared")
    sha = _sha(7)
    # delivery/images.py promote_commit: the release's tags added to main's build of its commit.
    promoted = Image(tuple({*image_tags(f"1.4.0-dev.g{sha}", sha), *image_tags("1.4.0", sha)}), 200)
    newer = [dev_build(n, 100 - n / 4) for n in range(150)]
    assert promoted not in expired_by(policy, [promoted, *newer])
